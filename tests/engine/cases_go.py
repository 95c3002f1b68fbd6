"""A Go client (go/client.go) under `sockdiag run --engine auto`: Go makes
its socket calls as raw system calls, so auto must choose strace and say
why, and the records must show the failures as Go meets them. Both builds
of the client: with cgo (dynamic, Go's default) and without (static). The
server (go/server.go) runs on its own for the client's cases, and under
sockdiag, with a Python client, for its own."""
import socket
import struct

from engine_harness import WRAP_NEW_PIDS, EngineRun
from sdtest import case, expect, expect_eq, read_records

CLIENTS = (("cgo", "client"), ("no cgo", "client_nocgo"))


def start_server(h, mode):
    """The Go server in MODE (reset, close); returns (process, port)."""
    argv = [h.go_prog("server"), mode]
    proc = h.start(argv, preload=False)
    line = h.read_line(proc)
    expect(line.startswith("port: "), f"the server printed {line!r}, expected 'port: N'")
    return proc, int(line.split()[1])


def expect_server_done(h, proc):
    rc, out, err = h.finish(proc, proc.args, 20)
    expect_eq(rc, 0, "the server's exit status", f"stdout:\n{out}\nstderr:\n{err}")
    expect_eq(out.strip(), "closed", "the server's last line", f"stderr:\n{err}")


def run_client(h, client, mode, port, level=None, wrap=()):
    run = h.run_engine("auto", [h.go_prog(client), mode, port], level=level, wrap=wrap)
    run.expect_engine("strace", "is a Go program")
    return run


def the_record(run, port, **wanted):
    """The one record matching `wanted`, whose peer is 127.0.0.1:PORT and
    whose explanation says something."""
    found = [r for r in run.records if all(r.get(k) == v for k, v in wanted.items())]
    expect_eq(len(found), 1, f"number of records with {wanted}", run.describe())
    rec = found[0]
    expect_eq(rec.get("peer"), f"127.0.0.1:{port}", "the record's peer", run.describe())
    expect(rec.get("explanation"), "the record has no explanation", run.describe())
    return rec


def expect_errors(run, count):
    """The run recorded `count` failures (error level)."""
    errors = [r for r in run.records if r.get("level") == "error"]
    expect_eq(len(errors), count, "number of error records", run.describe())


def go_case(title):
    """A case run for each build of the client: fn(h, client)."""
    def register(fn):
        for name, client in CLIENTS:
            case(f"Go client ({name}): {title}")(lambda h, client=client: fn(h, client))
        return fn
    return register


def refused_dial(h, client, wrap=()):
    # A bound socket that does not listen: connects to its port are refused.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    h.closers.append(holder.close)
    port = holder.getsockname()[1]
    run = run_client(h, client, "refused", port, wrap=wrap).expect_rc(0)
    expect_eq(run.lines(), ["dial: ECONNREFUSED"], "the client's output", run.describe())
    expect_errors(run, 1)
    rec = the_record(run, port, call="connect", code="ECONNREFUSED", via="SO_ERROR", level="error")
    # The explanation of a non-blocking connect's refusal, not a blocking one's.
    expect("SO_ERROR" in rec["explanation"], "the explanation does not say the refusal came through SO_ERROR",
           run.describe())


@go_case("refused dial: EINPROGRESS, then SO_ERROR = ECONNREFUSED")
def refused(h, client):
    refused_dial(h, client)


@case("Go client (no cgo) in a new PID namespace: refused dial, pids under 10000")
def refused_low_pids(h):
    # Go's threads split many calls in two (unfinished, resumed), each half
    # with a pid strace pads to five columns here.
    refused_dial(h, "client_nocgo", WRAP_NEW_PIDS)


@go_case("reset: the server closes with SO_LINGER 0, the read gets ECONNRESET")
def reset(h, client):
    server, port = start_server(h, "reset")
    run = run_client(h, client, "reset", port).expect_rc(0)
    expect_eq(run.lines(), ["dial: OK", "write: OK", "read: ECONNRESET"], "the client's output", run.describe())
    expect_server_done(h, server)
    expect_errors(run, 1)
    the_record(run, port, call="read", code="ECONNRESET", level="error")


@go_case("EPIPE: writes after the server closed, the write returns EPIPE")
def epipe(h, client):
    server, port = start_server(h, "close")
    run = run_client(h, client, "epipe", port).expect_rc(0)
    expect_eq(run.lines(), ["dial: OK", "write: OK", "read: EOF", "write: EPIPE"], "the client's output",
              run.describe())
    expect_server_done(h, server)
    expect_errors(run, 1)
    the_record(run, port, call="write", code="EPIPE", level="error")


@go_case("end of file: the server closes, the read returns 0 (info)")
def eof(h, client):
    server, port = start_server(h, "close")
    run = run_client(h, client, "eof", port, level="info").expect_rc(0)
    expect_eq(run.lines(), ["dial: OK", "write: OK", "read: EOF"], "the client's output", run.describe())
    expect_server_done(h, server)
    expect_errors(run, 0)
    the_record(run, port, call="read", code="EOF", level="info")



def observed_server(h, end):
    """The Go server in serve mode under `sockdiag run` (auto), a client
    that greets it and ends as `end` says ("reset": SO_LINGER 0, "close");
    returns the finished run."""
    log = h.new_log()
    cmd = [h.sockdiag, "run", "--format", "json", "--log", log, "--level", "info", "--summary", "--",
           h.go_prog("server"), "serve"]
    h.need_strace()
    proc = h.spawn_fds(cmd, ())
    line = h.read_line(proc)
    expect(line.startswith("port: "), f"the server printed {line!r}, expected 'port: N'")
    port = int(line.split()[1])
    client = socket.create_connection(("127.0.0.1", port), timeout=20)
    client.sendall(b"hello")
    if end == "reset":
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    run = EngineRun(cmd, *h.finish(proc, cmd, 40), log=log)
    run.records = read_records(log)
    run.expect_engine("strace", "is a Go program")
    return run, port


def client_record(run, **wanted):
    """The one record matching `wanted`, on the server's accepted connection
    (its peer a port of 127.0.0.1), explained."""
    found = [r for r in run.records if all(r.get(k) == v for k, v in wanted.items())]
    expect_eq(len(found), 1, f"number of records with {wanted}", run.describe())
    expect(found[0].get("peer", "").startswith("127.0.0.1:"), "the record names the client", run.describe())
    expect(found[0].get("explanation"), "the record has no explanation", run.describe())
    return found[0]


@case("Go server: the client resets, the server's read gets ECONNRESET")
def server_reset(h):
    run, _ = observed_server(h, "reset")
    run.expect_rc(0)
    expect_eq(run.lines(), ["read: ECONNRESET", "closed"], "the server's output", run.describe())
    client_record(run, call="read", code="ECONNRESET", level="error")


@case("Go server: the client closes, the server reads EOF, then its write gets EPIPE")
def server_eof_epipe(h):
    run, _ = observed_server(h, "close")
    run.expect_rc(0)
    expect_eq(run.lines(), ["read: EOF", "write: OK", "write: EPIPE", "closed"], "the server's output",
              run.describe())
    client_record(run, call="read", code="EOF", level="info")
    rec = client_record(run, call="write", code="EPIPE", level="error")
    expect_eq(rec.get("bytes_sent"), 4, "bytes the connection carried before the EPIPE", run.describe())
