"""The program behaves as without the library: results and errno of every
call, calls at exit, and a host program that uses spdlog itself. Symbol
hygiene of the library."""
import difflib
import re
import shutil
import subprocess

from harness import case, expect, expect_eq, only_record, read_records, select_records


def diff(a, b):
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "without library", "with library",
                                          lineterm=""))


@case("same results and errno with and without the library")
def same_behaviour(h):
    prog = h.prog("same_behaviour")
    plain = h.run([prog], preload=False).expect_rc(0)
    # The program must really have met the paths it names.
    plain.expect_out("connect refused: ret=-1 errno=ECONNREFUSED", "send: ret=5 errno=unchanged",
                     "recv reset: ret=-1 errno=ECONNRESET", "send after shutdown: ret=-1 errno=EPIPE",
                     "nonblocking connect outcome: ECONNREFUSED", "SO_ERROR after reading it: OK",
                     "recvmmsg: ret=2 errno=unchanged", "dup2: ret=100 errno=unchanged",
                     "read seqpacket record: ret=3 errno=unchanged", "read seqpacket record: ret=5 errno=unchanged",
                     "write seqpacket no peer: ret=-1 errno=EPIPE", "write fd -1: ret=-1 errno=EBADF",
                     "write after close: ret=-1 errno=EBADF", "recv on pipe: ret=-1 errno=ENOTSOCK")
    closed_fd = int(plain.value("closed socket fd:"))
    for level in ("error", "debug", "trace"):
        run = h.run_logged([prog], settings={"LEVEL": level})
        expect_eq(run.rc, plain.rc, f"exit status at level {level}", run.describe())
        expect(run.out == plain.out, f"the program's output changed at level {level}", diff(plain.out, run.out))
        expect_eq(run.err, plain.err, f"the program's stderr at level {level}")
        expect(select_records(run.records, call="connect", code="ECONNREFUSED"),
               f"no ECONNREFUSED record at level {level}: the library did not run", run.describe())
        # Socket calls on bad fds, and a closed socket used again, are
        # socket bugs; a read or write of a bad fd that was never a socket is not.
        for call, code, match in (("write", "EPIPE", {"kind": "unix-seqpacket"}), ("send", "EBADF", {"fd": -1}),
                                  ("recv", "EBADF", {"fd": -1}), ("recv", "ENOTSOCK", {}),
                                  ("write", "EBADF", {"fd": closed_fd}), ("read", "EBADF", {"fd": closed_fd})):
            expect(select_records(run.records, call=call, code=code, **match),
                   f"no {call} {code} record {match} at level {level}", run.describe())
        for call in ("read", "write"):
            expect_eq(select_records(run.records, call=call, fd=-1), [], f"{call} records for fd -1 at level {level}",
                      run.describe())
    on_stderr = h.run([prog], settings={"LEVEL": "trace"})
    expect(on_stderr.out == plain.out, "the program's output changed with records on its stderr",
           diff(plain.out, on_stderr.out))
    expect("ECONNREFUSED" in on_stderr.err, "no records on stderr", on_stderr.describe())


def check_exit_connect(h, prog, line):
    plain = h.run([h.prog(prog)], preload=False).expect_rc(0).expect_out("main done", line)
    run = h.run_logged([h.prog(prog)]).expect_rc(0)
    expect_eq(run.out, plain.out, "output under the library", run.describe())
    expect_eq(run.err, "", "stderr (a crash at exit would show here)", run.describe())
    only_record(run, call="connect", code="ECONNREFUSED", level="error")


@case("atexit handler making socket calls")
def atexit_connect(h):
    check_exit_connect(h, "atexit_connect", "atexit connect: -1 ECONNREFUSED")


@case("static destructor making socket calls")
def static_dtor_connect(h):
    check_exit_connect(h, "static_dtor_connect", "destructor connect: -1 ECONNREFUSED")


def libc_names():
    out = subprocess.run(["nm", "-D", "--defined-only", "/lib/x86_64-linux-gnu/libc.so.6"], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


@case("symbol hygiene nm and ldd")
def symbols(h):
    out = subprocess.run(["nm", "-D", "--defined-only", h.lib], capture_output=True, text=True, check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    for wanted in ("connect", "recv", "__recv_chk", "getaddrinfo", "close"):
        expect(wanted in names, f"{wanted} is not exported", out)
    foreign = [n for n in names if n.startswith("_Z") or re.search("fmt|spdlog", n) or "@" in n]
    expect_eq(foreign, [], "C++, fmt, spdlog or versioned names exported", out)
    not_libc = sorted(set(names) - libc_names())
    expect_eq(not_libc, [], "exported names that libc does not define", out)
    ldd = subprocess.run(["ldd", h.lib], capture_output=True, text=True, check=True).stdout
    expect(re.search("libfmt|libspdlog|libstdc\\+\\+", ldd) is None, "the library needs fmt, spdlog or libstdc++", ldd)


@case("host program using its own spdlog is unaffected")
def spdlog_host(h):
    prog = h.prog("spdlog_host")
    ldd = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True).stdout
    expect("libspdlog" in ldd, "the host program does not use the shared libspdlog", ldd)
    plain = h.run([prog], preload=False).expect_rc(0)
    plain.expect_out("[host] debug: connect returned -1 (refused)", "[host] info:    right|left  |0xff",
                     "<default|W> default logger: host loggers registered",
                     "[host] error: pattern and level are the host's own")
    run = h.run_logged([prog]).expect_rc(0)
    expect(run.out == plain.out, "the host's log output changed under the library", diff(plain.out, run.out))
    expect_eq(run.err, plain.err, "the host's stderr")
    only_record(run, call="connect", code="ECONNREFUSED")


@case("socket calls from a library constructor before sockdiag's")
def early_constructor_calls(h):
    # The dynamic linker runs the program's own libraries' constructors
    # before libsockdiag's: their calls reach hooks not bound or configured yet.
    prog = h.prog("early_calls")
    plain = h.run([prog], preload=False).expect_rc(0)
    plain.expect_out("early write stdout: 19 OK", "early recv fd -1: -1 EBADF", "early send: 3 OK", "early read: 3 OK",
                     "early connect refused: yes", "main connect refused: yes")
    for level in ("error", "trace"):
        run = h.run_logged([prog], settings={"LEVEL": level}).expect_rc(0)
        expect_eq(run.out, plain.out, f"the program's output at level {level}", run.describe())
        expect_eq(run.err, plain.err, f"the program's stderr at level {level}", run.describe())
        refused = select_records(run.records, call="connect", code="ECONNREFUSED", level="error")
        expect_eq(len(refused), 2, f"ECONNREFUSED records (constructor and main) at level {level}", run.describe())
        expect(select_records(run.records, call="recv", code="EBADF", fd=-1),
               f"no record of the constructor's recv on fd -1 at level {level}", run.describe())
    trace = h.run_logged([prog], settings={"LEVEL": "trace"})
    sent = select_records(trace.records, call="send", kind="unix-stream", ret=3)
    expect_eq(len(sent), 1, "trace records of the constructor's send", trace.describe())
    expect_eq(sent[0].get("bytes_sent"), 3, "bytes counted for the constructor's send", trace.describe())


@case("two copies of the library preloaded record once")
def two_copies(h):
    # An installed copy and a build's copy in one LD_PRELOAD: the second
    # stands down, saying so once, and every failure is recorded once.
    copy = h.path("libsockdiag-copy.so")
    shutil.copy(h.lib, copy)
    argv = [h.prog("connect_refused"), "blocking", "4", "3"]
    plain = h.run(argv, preload=False).expect_rc(0)
    log = h.new_log()
    run = h.run(argv, settings={"LOG": log, "FORMAT": "json"},
                extra={"LD_PRELOAD": h.preload + ":" + copy}).expect_rc(0)
    expect_eq(run.out.splitlines()[1:], plain.out.splitlines()[1:], "what the program printed (after its port)",
              run.describe())
    lines = run.err.splitlines()
    expect_eq(len(lines), 1, "lines on stderr", run.describe())
    expect(lines[0].startswith(f"sockdiag: {copy} stands down") and h.lib in lines[0],
           "the second copy did not say that it stands down for the first", run.describe())
    records = read_records(log)
    expect_eq(len(select_records(records, call="connect", code="ECONNREFUSED")), 3, "ECONNREFUSED records",
              "\n".join(map(str, records)))
