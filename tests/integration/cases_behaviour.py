"""The program behaves as without the library: results and errno of every
call, calls at exit, and a host program that uses spdlog itself. Symbol
hygiene of the library."""
import difflib
import re
import subprocess

from harness import case, expect, expect_eq, only_record, select_records


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
                     "recvmmsg: ret=2 errno=unchanged", "dup2: ret=100 errno=unchanged")
    for level in ("error", "debug", "trace"):
        run = h.run_logged([prog], settings={"LEVEL": level})
        expect_eq(run.rc, plain.rc, f"exit status at level {level}", run.describe())
        expect(run.out == plain.out, f"the program's output changed at level {level}", diff(plain.out, run.out))
        expect_eq(run.err, plain.err, f"the program's stderr at level {level}")
        expect(select_records(run.records, call="connect", code="ECONNREFUSED"),
               f"no ECONNREFUSED record at level {level}: the library did not run", run.describe())
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
