"""Daemon-style programs that close every fd: the log file must survive, and
never be written into the program's own sockets, pipes or files, also when
the program dup2()s its own file onto the log's fd number; the stderr log
stops with the stderr the program closed."""
from harness import case, expect, expect_eq, read_records, read_text, select_records


def close_all(h, mode):
    result = h.path(f"result-{mode}")
    log = h.path(f"log-{mode}")
    run = h.run([h.prog("close_all"), mode, result, log], settings={"LOG": log, "FORMAT": "json"}).expect_rc(0)
    lines = read_text(result).splitlines()
    detail = f"result file:\n{read_text(result)}\n{run.describe()}"
    expect_eq(lines.count("connect: -1 ECONNREFUSED"), 2, "refused connects the program saw", detail)
    noisy = [line for line in lines if line.split(":")[0] in
             ("socketpair[0]", "socketpair[1]", "pipe", "scratch", "dup2 file") and not line.endswith(": quiet")]
    expect_eq(noisy, [], "the program's own fds that received something it did not write", detail)
    expect_eq(len([line for line in lines if line.endswith(": quiet")]), 8, "checks of the program's fds", detail)
    for line in ("log fd: found", "dup2 onto log fd: OK", "fd after dup2: the program's file"):
        expect(line in lines, f"missing {line!r} in the result", detail)
    expect(all(not line.startswith(("{", "sockdiag")) for line in lines), "a record in the program's result file",
           detail)
    records = read_records(log)
    expect_eq(run.out + run.err, "", "output of the program (its stdout/stderr are closed or unused)", detail)
    refused = select_records(records, call="connect", code="ECONNREFUSED")
    expect_eq(len(refused), 2, "ECONNREFUSED records in the log (before and after the dup2)", detail)
    # Whether close(2) of never-opened fds is reported is checked apart.
    others = [r for r in records if r not in refused and (r["call"], r["code"]) != ("close", "EBADF")]
    expect_eq(others, [], "other records in the log", detail)
    return records


@case("close every fd loop keeps the log file")
def close_loop_file(h):
    close_all(h, "loop")


@case("close_range keeps the log file")
def close_range_file(h):
    close_all(h, "close_range")


@case("close every fd loop stops the stderr log")
def close_loop_stderr(h):
    # The stderr log follows fd 2, which the loop closes: what takes number 2
    # next (here the program's socketpair) is not its stderr, and the log
    # keeps no copy of the old one. The program's fds see exactly what they
    # see without the library.
    results = {}
    for preload in (False, True):
        result = h.path(f"result-{preload}")
        run = h.run([h.prog("close_all"), "loop", result, "stderr"], preload=preload,
                    settings={"FORMAT": "json"}).expect_rc(0)
        expect_eq(run.out + run.err, "", "output of the program (its stdout and stderr are closed)", run.describe())
        results[preload] = read_text(result)
    expect_eq(results[True], results[False], "what the program saw of its own fds under the library")
    expect("log fd: none" in results[True].splitlines(), "a copy of the closed stderr is still open", results[True])


@case("close every fd loop is not reported as double closes")
def close_loop_quiet(h):
    # A daemon's close loop meets EBADF on every fd it never had: that is its
    # normal start, not a double close, and a normal run writes no record.
    records = close_all(h, "loop")
    closes = select_records(records, call="close", code="EBADF")
    expect_eq(len(closes), 0, "close EBADF records for the fds of the close loop",
              "\n".join(f"fd {r['fd']}: {r['explanation']}" for r in closes[:3]))


DOUBLE_CLOSE = r"""
import os, socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname())
fd = c.detach()
os.close(fd)
try:
    os.close(fd)
except OSError as e:
    print("second close:", e.strerror)
"""


@case("double close of a connected socket counted with no peer")
def double_close_no_peer(h):
    # The second close names a number that is no socket: neither its record
    # nor the summary's failures by peer may name the connection it had.
    python = "/usr/bin/python3"
    argv = [python, "-c", DOUBLE_CLOSE]
    plain = h.run(argv, preload=False).expect_rc(0)
    summary = h.path("summary.json")
    run = h.run_logged(argv, settings={"SUMMARY": summary})
    expect_eq((run.rc, run.out), (plain.rc, plain.out), "status and output under the library", run.describe())
    closes = select_records(run.records, call="close", code="EBADF")
    expect_eq([r["peer"] for r in closes], [""], "the double close's record and its peer", run.records)
    rows = read_records(summary)
    expect_eq([r for r in rows if r.get("summary") == "peer"], [], "failures by peer in the summary", rows)
