"""What libc does to fds behind the close and dup2 hooks (fclose, freopen,
a new RLIMIT_FSIZE), children that skip the atfork handlers, and the cost of
a record in system calls: the log keeps what it knows of its fd from the
hooks instead of asking the kernel before each record, so these are the
cases where asking would have been needed."""
import re
import shutil

from harness import Skipped, case, expect, expect_eq, read_records, read_text


def both_runs(h, mode, *args, settings=None):
    """The program's stdout and FILE's contents without and with the library."""
    seen = {}
    for preload in (False, True):
        path = h.path(f"{mode}-{preload}")
        run = h.run([h.prog("libc_fds"), mode, path, *args], preload=preload, settings=settings).expect_rc(0)
        seen[preload] = (run, read_text(path))
    return seen


@case("stderr log fclose of stderr then open the data file that takes fd 2 gets no record")
def fclose_then_open(h):
    seen = both_runs(h, "fclose-open")
    for preload, (run, text) in seen.items():
        run.expect_out("open: fd 2", "connect refused: 1")
        expect_eq(text, "program line\n", f"the program's data file ({'with' if preload else 'without'} the library)",
                  run.describe())


@case("stderr log follows freopen of stderr")
def freopen_followed(h):
    seen = both_runs(h, "freopen")
    run, plain = seen[False]
    expect_eq(plain, "program line\n", "the new stderr without the library", run.describe())
    run, text = seen[True]
    run.expect_out("stderr fd: 2", "connect refused: 1")
    lines = text.splitlines()
    expect_eq(lines[-1:], ["program line"], "the program's own line, last", text)
    records = [line for line in lines[:-1] if line.startswith("sockdiag ") and " connect " in line]
    expect_eq(len(records), 1, "ECONNREFUSED records in the new stderr (the log follows it)", text)
    expect("ECONNREFUSED" in records[0], "the record names ECONNREFUSED", text)


def lowered_fsize(h, how):
    seen = both_runs(h, "fsize", how)
    for preload, (run, text) in seen.items():
        # SIGXFSZ's default action would end the program before "alive".
        expect_eq(run.lines(), ["connect refused: 1"] * 3 + ["alive"], "what the program printed", run.describe())
    run, text = seen[True]
    lines = text.splitlines()
    expect_eq(len(lines), 1, "records in the stderr file: the first only, the later ones would pass the new "
              "RLIMIT_FSIZE", text)
    expect("ECONNREFUSED" in lines[0], "the record before the limit", text)


@case("stderr file RLIMIT_FSIZE lowered by setrlimit after a record no SIGXFSZ")
def fsize_setrlimit(h):
    lowered_fsize(h, "setrlimit")


@case("stderr file RLIMIT_FSIZE lowered by prlimit after a record no SIGXFSZ")
def fsize_prlimit(h):
    lowered_fsize(h, "prlimit")


@case("stderr file RLIMIT_FSIZE lowered by syscall prlimit64 after a record no SIGXFSZ")
def fsize_syscall(h):
    lowered_fsize(h, "syscall")


def child_ids(h, how):
    log = h.path("log")
    run = h.run([h.prog("libc_fds"), "fork", how], settings={"LOG": log, "FORMAT": "json"}).expect_rc(0)
    parent = int(run.value("parent "))
    child = int(run.value("child "))
    records = [r for r in read_records(log) if r.get("call") == "connect" and r.get("code") == "ECONNREFUSED"]
    ids = sorted((r["pid"], r["tid"]) for r in records)
    expect_eq(ids, sorted([(parent, parent), (child, child)]), "pid and tid of the two refused connects' records",
              run.describe())


@case("records of a fork child name its own pid and tid")
def ids_fork(h):
    child_ids(h, "fork")


@case("records of a _Fork child name its own pid and tid without atfork handlers")
def ids_underscore_fork(h):
    child_ids(h, "_Fork")


@case("records of a raw SYS_fork child name its own pid and tid")
def ids_raw_fork(h):
    child_ids(h, "syscall")


@case("stderr log daemon with its stdio to dev null records before it only")
def daemon_libc(h):
    for preload in (False, True):
        pidfile = h.path(f"pid-{preload}")
        run = h.run([h.prog("libc_fds"), "daemon", pidfile], preload=preload).expect_rc(0)
        run.expect_out("connect refused: 1", "daemon wrote its pid: yes")
        expect(read_text(pidfile).strip().isdigit(), "the daemon's pid file holds its pid", run.describe())
        records = [line for line in run.err.splitlines() if line.startswith("sockdiag ")]
        expect_eq(len(records), 1 if preload else 0,
                  "records on the caller's stderr (the daemon's own went to /dev/null with its stderr)",
                  run.describe())


@case("stderr log follows login_tty onto the new terminal")
def login_tty_followed(h):
    seen = {}
    for preload in (False, True):
        run = h.run([h.prog("libc_fds"), "login_tty"], preload=preload).expect_rc(0)
        run.expect_out("tty: child done", "parent done")
        seen[preload] = run
        records = [line for line in run.lines() if line.startswith("tty: sockdiag ")]
        expect_eq(len(records), 1 if preload else 0, "records the child's terminal showed", run.describe())
        expect(not any(line.startswith("sockdiag ") for line in run.err.splitlines()),
               "no record on the parent's stderr: the child's went to its terminal", run.describe())


def syscall_count(h, strace, n, preload, settings):
    out = h.path(f"strace-{n}-{preload}")
    argv = [strace, "-f", "-qq", "-o", out, h.prog("libc_fds"), "refused", str(n)]
    proc = h.spawn(argv, h.env(preload, settings))
    rc, _, err = h.finish(proc, argv, 60)
    expect_eq(rc, 0, "exit status under strace", err)
    calls = [line for line in read_text(out).splitlines() if re.match(r"^\d+\s+[a-z_0-9]+\(", line)]
    return len(calls), calls


def added_per_failure(h, settings):
    strace = shutil.which("strace")
    if not strace:
        raise Skipped("strace is not installed")
    counts = {}
    for preload in (False, True):
        small, _ = syscall_count(h, strace, 10, preload, settings)
        big, calls = syscall_count(h, strace, 30, preload, settings)
        counts[preload] = (big - small, calls)
    added = counts[True][0] - counts[False][0]
    return added / 20, "\n".join(counts[True][1][-12:])


@case("a refused connect's record to a file costs one system call its write")
def one_syscall_file(h):
    log = h.path("records.log")
    per_failure, tail = added_per_failure(h, {"LOG": log})
    expect_eq(per_failure, 1.0, "system calls added per refused connect (its record's write)", tail)
    expect_eq(len(read_text(log).splitlines()), 10 + 30, "records written", tail)


@case("a refused connect's record on stderr to dev null costs no system call")
def no_syscall_devnull(h):
    per_failure, tail = added_per_failure(h, {"LOG": "/dev/null"})
    expect_eq(per_failure, 0.0, "system calls added per refused connect (records to /dev/null are not written)",
              tail)
