"""The scenario programs of ../progs, built twice: the dynamic build under
the preload engine, the static one under `--engine auto` (which must choose
strace: the library cannot enter a static program). Both must record the
same failures, but for what strace cannot see (engine_harness,
unseen_by_strace: a connect's error pending at close, in the POLLERR-close
and connect_abandoned cases), and the program must do the same under both."""
import os

from engine_harness import WRAP_NEW_PIDS, expect_same_program, expect_same_records
from sdtest import case, expect, expect_eq


def compare(h, prog, args, ordered=True, level="info", before_each=None, wrap=()):
    """Runs PROG ARGS twice (dynamic under preload, static under auto) and
    compares them. `before_each`: called before each run (clears what a
    run leaves, e.g. a socket file); `wrap`: the command the auto run runs
    under."""
    runs = {}
    for engine, path in (("preload", h.prog(prog)), ("auto", h.static_prog(prog))):
        if before_each:
            before_each()
        runs[engine] = h.run_engine(engine, [path] + list(args), level=level,
                                    wrap=wrap if engine == "auto" else ())
    runs["auto"].expect_engine("strace", "is statically linked")
    expect_same_program(runs["preload"], runs["auto"], ordered)
    expect_same_records(runs["preload"], runs["auto"], ordered)


def scenario(title, prog, *args, ordered=True, level="info"):
    case(title)(lambda h: compare(h, prog, args, ordered, level))


scenario("static connect_refused: blocking connect refused, IPv4", "connect_refused", "blocking", "4", "3")
scenario("static connect_refused: blocking connect refused, IPv6", "connect_refused", "blocking", "6", "2")
scenario("static connect_refused: non-blocking, poll then SO_ERROR, IPv4", "connect_refused", "poll", "4", "2")
scenario("static connect_refused: non-blocking, poll then SO_ERROR, IPv6", "connect_refused", "poll", "6", "1")
scenario("static connect_refused: non-blocking, epoll then SO_ERROR", "connect_refused", "epoll", "4", "2")
scenario("static connect_refused: POLLERR then close without SO_ERROR", "connect_refused", "pollerr-close", "4", "1")
scenario("static peer_close: reset read as ECONNRESET", "peer_close", "reset")
scenario("static peer_close: reset, then end of file", "peer_close", "reset-read")
scenario("static peer_close: orderly close read as end of file (info)", "peer_close", "orderly")
scenario("static peer_close: EPIPE on send and write, SIGPIPE ignored", "peer_close", "epipe")
scenario("static bind_taken: EADDRINUSE on 127.0.0.1", "bind_taken", "4")
scenario("static recv_eagain: the program's own SO_RCVTIMEO expires", "recv_eagain", "rcvtimeo")
scenario("static recv_eagain: non-blocking EAGAIN is expected flow", "recv_eagain", "nonblock")
scenario("static fork_refused: refused connects in a parent, a thread and children", "fork_refused", "2", "3",
         ordered=False)
scenario("static threads_refused: refused connects in three threads", "threads_refused", "3", "5", ordered=False)
scenario("static connect_abandoned: connect given up with shutdown, IPv4", "connect_abandoned", "4", "300")
scenario("static connect_abandoned: connect given up with shutdown, IPv6", "connect_abandoned", "6", "300")


@case("static peer_close: after the program's own shutdown, its end of file and EPIPE blame no peer (debug)")
def own_shutdown(h):
    for mode, code in (("shut-read", "EOF"), ("shut-write", "EPIPE")):
        compare(h, "peer_close", [mode], level="debug")
        run = h.run_engine("auto", [h.static_prog("peer_close"), mode], level="debug")
        found = [r for r in run.records if r.get("code") == code]
        expect_eq(len(found), 1, f"{code} records of the strace engine", run.describe())
        expect("this program had shut fd" in found[0]["explanation"].lower(), f"the strace engine blames the peer "
               f"for the {code} that follows the program's own shutdown", run.describe())


@case("static bind_taken: EADDRINUSE on a socket file and an abstract name")
def bind_unix(h):
    path = h.path("taken.sock")

    def remove():
        if os.path.lexists(path):
            os.unlink(path)
    compare(h, "bind_taken", ["unix", path], before_each=remove)
    compare(h, "bind_taken", ["abstract", f"sockdiag-engine-{os.getpid()}"])


@case("static connect_unix: a missing socket file and an abstract name nobody binds")
def connect_unix(h):
    compare(h, "connect_unix", [h.path("missing.sock"), f"@sockdiag-engine-none-{os.getpid()}"])


@case("static connect_refused in a new PID namespace: pids under 10000, padded by strace")
def low_pids(h):
    compare(h, "connect_refused", ["blocking", "4", "2"], wrap=WRAP_NEW_PIDS)


@case("static threads_refused in a new PID namespace: calls of threads split and resumed")
def low_pids_threads(h):
    compare(h, "threads_refused", ["3", "5"], ordered=False, wrap=WRAP_NEW_PIDS)
