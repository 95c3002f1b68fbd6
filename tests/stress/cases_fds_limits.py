"""Faults around the library's own log: a program that closes every fd and
dup2()s its own socket onto the log's number while another thread logs; a
server at RLIMIT_NOFILE; a log on a full disk or past RLIMIT_FSIZE. The
program's behaviour and output stay as without the library."""
import collections
import os
import signal
import subprocess

import debian_tools
from harness import Skipped, case, expect, expect_eq, read_text
from record_stream import stream_records

# Each round races the logger thread once: the more rounds, the surer a
# record written into the program's socket is caught.
CLOSE_ROUNDS = 1000


def close_storm(h, mode):
    result = h.path("result")
    log = h.path("log")
    run = h.run([h.prog("close_storm"), mode, CLOSE_ROUNDS, result, log], settings={"LOG": log, "FORMAT": "json"},
                timeout=60).expect_rc(0)
    lines = read_text(result).splitlines()
    detail = f"result file:\n{read_text(result)}\n{run.describe()}"
    for line in (f"log fd found {CLOSE_ROUNDS}", f"dup2 ok {CLOSE_ROUNDS}", "own fds quiet", "main refused 1"):
        expect(line in lines, f"missing {line!r} in the result", detail)
    refused = int(next(line.split()[-1] for line in lines if line.startswith("logger refused")))
    expect_eq(run.out + run.err, "", "output of the program (its stdout and stderr are closed)", detail)
    records = list(stream_records(log))
    per_call = collections.Counter((r["call"], r["code"]) for r in records)
    # No record lost while the program closed the log's fd and dup2()ed over it.
    expect_eq(per_call[("connect", "ECONNREFUSED")], refused + 1, "ECONNREFUSED records (logger's and main's)",
              f"{dict(per_call)}\n{detail}")


@case("close every fd loop while logging keeps the log file")
def close_loop_file(h):
    close_storm(h, "loop")


# The stderr log is not tested here: it follows fd 2, which this program
# closes and replaces by its own socketpair (tests/integration/cases_fds.py,
# cases_log_sink.py).
@case("close_range while logging keeps the log file")
def close_range_file(h):
    close_storm(h, "close_range")


# ---- RLIMIT_NOFILE -----------------------------------------------------------
LIMIT = 64
FILLERS = "fds opened before EMFILE: "


def emfile_runs(h, argv, last_fd=LIMIT - 1):
    """`last_fd`: the number of the fd the server frees and accept gets again
    under the library."""
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out("accept at the limit: -1 EMFILE", f"accept after freeing one fd: {LIMIT - 1} OK")
    run = h.run_logged(argv).expect_rc(0)
    expect_eq(run.out, plain.out.replace(f": {LIMIT - 1} OK", f": {last_fd} OK"), "the server's output under the library",
              run.describe())
    expect_eq(len(run.records), 1, "records", run.describe())
    rec = run.records[0]
    expect_eq((rec["call"], rec["code"], rec["level"]), ("accept", "EMFILE", "error"), "the record", run.describe())
    for words in ("limit of open files", "RLIMIT_NOFILE"):
        expect(words in rec["explanation"], f"the explanation does not mention {words!r}", rec["explanation"])
    return int(plain.err.strip()[len(FILLERS):]), int(run.err.strip()[len(FILLERS):])


@case("RLIMIT_NOFILE 64 set by the server accept EMFILE explained")
def emfile_own_limit(h):
    plain, hooked = emfile_runs(h, [h.prog("accept_emfile"), LIMIT])
    # The log fd was placed before the program lowered its limit: the
    # program has all of its 64 fds.
    expect_eq(hooked, plain, "fds the server could open under the library")


@case("RLIMIT_NOFILE 64 from prlimit accept EMFILE explained")
def emfile_prlimit(h):
    # Started at the limit, the program shares its 64 fds with the library's
    # log fd, which takes the highest number (the program's own numbers stay
    # as without the library): its last fd is one lower, and it has one fewer.
    plain, hooked = emfile_runs(h, [debian_tools.tool("/usr/bin/prlimit"), f"--nofile={LIMIT}:{LIMIT}", "--",
                                    h.prog("accept_emfile"), LIMIT], last_fd=LIMIT - 2)
    expect_eq(hooked, plain - 1, "fds the server could open under the library")


# ---- full disk ---------------------------------------------------------------
IO_THREADS, IO_CALLS = 4, 5000


def unchanged_with_log(h, log, extra_settings=None):
    """stress_io (no timer: its output is then the same run after run) with
    a trace log at `log`: output and status as without the library."""
    argv = [h.prog("stress_io"), IO_THREADS, IO_CALLS, "off"]
    plain = h.run(argv, preload=False).expect_rc(0)
    settings = {"LEVEL": "trace", "FORMAT": "json", "LOG": log}
    settings.update(extra_settings or {})
    run = h.run(argv, settings=settings, timeout=60)
    expect_eq((run.rc, run.out, run.err), (plain.rc, plain.out, plain.err), "status and output with the log full",
              run.describe())
    return run


@case("log on the full device")
def log_dev_full(h):
    # Every write to /dev/full fails with ENOSPC.
    unchanged_with_log(h, "/dev/full")


@case("log on a full 64k tmpfs")
def log_full_tmpfs(h):
    mnt = h.path("small")
    os.mkdir(mnt)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True, text=True)
    if mount.returncode != 0:
        raise Skipped(f"cannot mount a tmpfs here ({mount.stderr.strip()}); the full-disk path is covered with /dev/full")
    try:
        log = os.path.join(mnt, "log")
        unchanged_with_log(h, log)
        expect(os.path.getsize(log) > 60 * 1024, f"the log did not fill the tmpfs: {os.path.getsize(log)} bytes")
        # Whole records only: the part of one the full disk cut is cut back off.
        records = sum(1 for _ in stream_records(log))
        expect(records > 0, "no complete record before the disk was full")
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


@case("log past RLIMIT_FSIZE without SIGXFSZ killing the program")
def log_past_fsize(h):
    limit, rounds = 65536, 2000
    argv = [h.prog("fsize_probe"), limit, rounds, h.path("own.bin")]
    plain = h.run(argv, preload=False)
    # The program's own SIGXFSZ, unblocked at the end, kills it.
    expect_eq(plain.rc, -signal.SIGXFSZ, "fsize_probe's exit without the library (killed by its own SIGXFSZ)", plain.describe())
    plain.expect_out(f"alive after {rounds} ping-pongs", "own write past the limit: EFBIG",
                     f"own SIGXFSZ pending after {rounds} more ping-pongs: yes")
    log = h.path("trace.log")
    run = h.run(argv, settings={"LEVEL": "trace", "FORMAT": "json", "LOG": log})
    expect_eq((run.rc, run.out, run.err), (plain.rc, plain.out, plain.err), "status and output with the log at the limit",
              run.describe())
    size = os.path.getsize(log)
    expect(0 < size <= limit, f"size of the log: {size} bytes, limit {limit}")
    # Whole records only: one that would not fit below the limit is dropped.
    records = sum(1 for _ in stream_records(log))
    expect(records > 0, "no complete record before the limit")
