"""Configuration from the environment: a bad value stops the program before
main with one line; in secure-execution mode (setuid) nothing is read."""
import os
import shutil
import subprocess
import tempfile

from harness import case, expect, expect_eq

CONFIG_ERROR = 78  # EX_CONFIG


def expect_refused(run, must_name):
    """`run` stopped before main: exit status 78 and one line on stderr that
    contains every word of `must_name`."""
    run.expect_rc(CONFIG_ERROR)
    expect_eq(run.out, "", "the program's output (main must not run)", run.describe())
    lines = run.err.splitlines()
    expect_eq(len(lines), 1, "lines on stderr", run.describe())
    for word in must_name:
        expect(word in lines[0], f"the line does not say {word!r}", run.err)
    return run


def check_refused(h, extra, must_name):
    """The program (/bin/echo) must not run under the settings `extra`."""
    expect_refused(h.run(["/bin/echo", "main ran"], extra=extra), must_name)


@case("bad SOCKDIAG_LEVEL stops before main")
def bad_level(h):
    h.run(["/bin/echo", "main ran"], settings={"LEVEL": "debug"}).expect_rc(0).expect_out("main ran")
    check_refused(h, {"SOCKDIAG_LEVEL": "verbose"}, ["SOCKDIAG_LEVEL", "verbose", "off", "error", "info", "debug",
                                                     "trace"])


@case("bad SOCKDIAG_FORMAT stops before main")
def bad_format(h):
    check_refused(h, {"SOCKDIAG_FORMAT": "xml"}, ["SOCKDIAG_FORMAT", "xml", "text", "json"])


@case("misspelt variable SOCKDIAG_LEVL stops before main")
def misspelt(h):
    check_refused(h, {"SOCKDIAG_LEVL": "debug"}, ["SOCKDIAG_LEVL", "SOCKDIAG_LEVEL"])


@case("bad SOCKDIAG_SECCOMP stops before main")
def bad_seccomp(h):
    h.run(["/bin/echo", "main ran"], extra={"SOCKDIAG_SECCOMP": "keep"}).expect_rc(0).expect_out("main ran")
    check_refused(h, {"SOCKDIAG_SECCOMP": "off"}, ["SOCKDIAG_SECCOMP", "off", "standdown", "keep"])


@case("bad SOCKDIAG_SUMMARY stops before main")
def bad_summary(h):
    check_refused(h, {"SOCKDIAG_SUMMARY": "maybe"}, ["SOCKDIAG_SUMMARY", "maybe", "0", "1"])


def suid_capable_dir(candidates):
    """A new directory, readable by everyone, on a file system that honours
    set-user-ID bits (not mounted nosuid)."""
    for parent in candidates:
        if os.path.isdir(parent) and not os.statvfs(parent).f_flag & os.ST_NOSUID:
            d = tempfile.mkdtemp(prefix="sockdiag-suid-", dir=parent)
            os.chmod(d, 0o755)
            return d
    return None


@case("secure execution reads no settings")
def secure_execution(h):
    expect_eq(os.geteuid(), 0, "user running the tests (root is needed to make a set-user-ID root program)")
    probe = h.prog("secure_probe")
    # Not setuid: the linked library reads the environment and refuses the level.
    h.run([probe], preload=False, settings={"LEVEL": "garbage"}).expect_rc(CONFIG_ERROR)
    d = suid_capable_dir(["/tmp", h.build_dir])
    expect(d, f"no file system among /tmp and {h.build_dir} allows set-user-ID programs (all mounted nosuid)")
    h.cleanup_paths.append(d)
    copy = os.path.join(d, "secure_probe")
    shutil.copy(probe, copy)
    os.chown(copy, 0, 0)
    os.chmod(copy, 0o4755)
    log = os.path.join(d, "must-not-exist.log")
    # Run by nobody, the set-user-ID root program is in secure-execution mode
    # (AT_SECURE: effective uid differs from the real one).
    run = h.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", copy], preload=False,
                settings={"LEVEL": "garbage", "LOG": log, "FORMAT": "json"})
    expect(run.rc != CONFIG_ERROR, "the library read SOCKDIAG_LEVEL in secure-execution mode", run.describe())
    run.expect_rc(0).expect_out("library mapped: yes", "connect: -1 ECONNREFUSED")
    expect(not os.path.exists(log), "the library opened SOCKDIAG_LOG in secure-execution mode", run.describe())
    # The defaults apply instead: text records on stderr.
    expect(run.err.startswith("sockdiag ") and "ECONNREFUSED" in run.err,
           "no record with the default settings (text on stderr)", run.describe())
    uid = subprocess.run(["stat", "-c", "%u %a", copy], capture_output=True, text=True, check=True).stdout.split()
    expect_eq(uid, ["0", "4755"], "owner and mode of the set-user-ID copy")
