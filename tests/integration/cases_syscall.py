"""Programs that go around libc's wrappers: socket calls made through
syscall() (as libuv makes sendmmsg and recvmmsg) are observed like the
named calls, with the same results and errno; a program that confines
itself with a seccomp filter (as OpenSSH's pre-authentication child does),
or inherits one across exec, is passed through untouched."""
import re
import signal

from harness import case, expect, expect_eq, select_records
from cases_behaviour import diff

KILLED_BY_SIGSYS = (-signal.SIGSYS, 128 + signal.SIGSYS)
STANDS_DOWN = re.compile(r"^sockdiag: pid \d+ installs a seccomp filter: sockdiag stands down in this process$")
INHERITED = re.compile(r"^sockdiag: pid \d+ runs under a seccomp filter: sockdiag stands down in this process ")


@case("socket calls made through syscall same results and records")
def syscall_calls(h):
    prog = h.prog("syscall_calls")
    plain = h.run([prog], preload=False).expect_rc(0)
    plain.expect_out("connect refused: -1 ECONNREFUSED", "close again: -1 EBADF", "sendmmsg: 1 OK",
                     "sendmmsg msg_len: 53", "recvmmsg refused: -1 ECONNREFUSED", "accept4: 0 OK", "write: 5 OK",
                     "recvfrom: 3 OK", "fcntl dupfd: 0 OK", "read eof: 0 OK", "accept4 bad fd: -1 EBADF",
                     "getpid same: yes", "futex wake: 0 OK", "unknown number: -1 ENOSYS")
    for level in ("error", "trace"):
        run = h.run_logged([prog], settings={"LEVEL": level})
        expect_eq(run.rc, plain.rc, f"exit status at level {level}", run.describe())
        expect(run.out == plain.out, f"the program's output changed at level {level}", diff(plain.out, run.out))
        expect_eq(run.err, plain.err, f"the program's stderr at level {level}")
        for call, code in (("connect", "ECONNREFUSED"), ("close", "EBADF"), ("recvmmsg", "ECONNREFUSED"),
                           ("accept4", "EBADF")):
            expect_eq(len(select_records(run.records, call=call, code=code, level="error")), 1,
                      f"{call} {code} records at level {level}", run.describe())
        # The datagram went out: the refusal's record counts its bytes.
        refused = select_records(run.records, call="recvmmsg", code="ECONNREFUSED")[0]
        expect_eq(refused.get("bytes_sent"), 53, "bytes sent before the ICMP refusal", run.describe())
        if level == "error":
            expect_eq(len(run.records), 4, "records at the default level", run.describe())
            continue
        for call, ret, kind in (("socket", None, "tcp4"), ("sendmmsg", 1, "udp4"), ("bind", 0, "tcp4"),
                                ("listen", 0, "tcp4"), ("accept4", None, "tcp4"), ("write", 5, "tcp4"),
                                ("recvfrom", 3, "tcp4"), ("fcntl", None, "tcp4")):
            match = {"call": call, "kind": kind}
            if ret is not None:
                match["ret"] = ret
            expect(select_records(run.records, **match), f"no trace record {match}", run.describe())
        sent = select_records(run.records, call="sendmmsg", kind="udp4")
        expect_eq([r.get("bytes_sent") for r in sent], [53], "bytes counted for sendmmsg", run.describe())
        expect_eq(select_records(run.records, call="futex"), [], "records of a number not routed", run.describe())


def stand_down_lines(err):
    return [line for line in err.splitlines() if line.startswith("sockdiag:")]


@case("a program installing a seccomp filter runs as without the library")
def seccomp_installed(h):
    prog = h.prog("seccomp_strict")
    for how in ("prctl", "syscall"):
        plain = h.run([prog, how], preload=False).expect_rc(0)
        plain.expect_out(f"confining with {how}", "write and read on the socket: ok")
        for level in ("error", "trace"):
            run = h.run_logged([prog, how], settings={"LEVEL": level})
            expect_eq(run.rc, 0, f"exit status ({how}, level {level}): SIGSYS means a call of the library's own "
                                 "or a rewritten call reached the filter", run.describe())
            expect_eq(run.out, plain.out, f"the program's output ({how}, level {level})", run.describe())
            lines = stand_down_lines(run.err)
            expect(len(lines) == 1 and STANDS_DOWN.match(lines[0]),
                   f"not one line saying the library stands down ({how}, level {level})", run.describe())
            # Nothing is observed once the filter is coming: the socket write
            # stays a write (no record, no send).
            expect_eq(select_records(run.records, call="write"), [], f"records of writes under the filter ({how})",
                      run.describe())
        traced = h.run_logged([prog, how], settings={"LEVEL": "trace"})
        expect(select_records(traced.records, call="socketpair"),
               f"no trace record of the socketpair made before the filter ({how})", traced.describe())
        # The filter really kills a call the program did not make: with the
        # library kept on, write() on the socket becomes send() and SIGSYS ends it.
        kept = h.run([prog, how], extra={"SOCKDIAG_SECCOMP": "keep"})
        expect(kept.rc in KILLED_BY_SIGSYS, f"SOCKDIAG_SECCOMP=keep ({how}): the filter did not kill the process",
               kept.describe())


@case("a seccomp filter the kernel refuses leaves the library on")
def seccomp_refused(h):
    prog = h.prog("seccomp_strict")
    plain = h.run([prog, "refused"], preload=False).expect_rc(0)
    plain.expect_out("refused filter: -1 EINVAL", "write and read on the socket: ok")
    run = h.run_logged([prog, "refused"], settings={"LEVEL": "trace"}).expect_rc(0)
    expect_eq(run.out, plain.out, "the program's output", run.describe())
    lines = stand_down_lines(run.err)
    expect_eq(len(lines), 2, "lines of the library on stderr", run.describe())
    expect("refused the seccomp filter (Invalid argument): sockdiag resumes" in lines[1],
           "the second line does not say the library resumes", run.describe())
    expect(select_records(run.records, call="write", kind="unix-stream", ret=18),
           "no trace record of the write after the refused filter: the library did not resume", run.describe())


@case("a seccomp filter inherited across exec runs as without the library")
def seccomp_inherited(h):
    prog = h.prog("seccomp_strict")
    plain = h.run([prog, "exec"], preload=False).expect_rc(0)
    plain.expect_out("confining with exec", "write and read on the socket: ok")
    run = h.run_logged([prog, "exec"], settings={"LEVEL": "trace"})
    expect_eq(run.rc, 0, "exit status (SIGSYS: the write became a send under the inherited filter)", run.describe())
    expect_eq(run.out, plain.out, "the program's output", run.describe())
    lines = stand_down_lines(run.err)
    expect(len(lines) == 2 and STANDS_DOWN.match(lines[0]) and INHERITED.match(lines[1]),
           "the installing process and the program it executes each say once that the library stands down",
           run.describe())
    # Without a filter the same program is observed: its write is recorded.
    free = h.run_logged([prog, "io"], settings={"LEVEL": "trace"}).expect_rc(0)
    expect(select_records(free.records, call="write", kind="unix-stream", ret=18),
           "no trace record of the write without a filter", free.describe())
    expect_eq(stand_down_lines(free.err), [], "lines of the library without a filter", free.describe())
    kept = h.run([prog, "exec"], extra={"SOCKDIAG_SECCOMP": "keep"})
    expect(kept.rc in KILLED_BY_SIGSYS, "SOCKDIAG_SECCOMP=keep: the inherited filter did not kill the process",
           kept.describe())
