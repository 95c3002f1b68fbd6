"""The cases that the ruby, perl and php line clients (rb_line_client.rb,
pl_line_client.pl, php_line_client.php) share: each talks to a line echo
server of the test (a thread, without the library) on 127.0.0.1. Healthy:
200 lines echoed, no record at the default level. Refused by a closed port:
one record of the connect, with the peer. Refused by an injected fault
(`connect:error=ECONNREFUSED:port=P`) while the server listens on P: the
client says what it says for the real refusal, the server sees no
connection, and the record is the real one's, marked with its rule. Each
also under `sockdiag run --summary`, whose counts must match the records."""
import contextlib
import socket
import threading

from harness import expect_eq
from modes import Mode, closed_port, three_runs
from summary_runs import expect_marked, expect_records, four_runs, injected_runs, summary_run

LINES = 200


@contextlib.contextmanager
def line_echo_server():
    """Echoes every connection's bytes back, one connection after another,
    on 127.0.0.1; yields (port, a function giving how many connections it
    has served)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)  # the accept loop looks at `stop` this often
    stop, served = threading.Event(), []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            served.append(conn.getpeername())
            with conn:
                conn.settimeout(60)
                try:
                    while data := conn.recv(65536):
                        conn.sendall(data)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], lambda: len(served)
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def healthy(h, prog, argv, traced_calls):
    def scenario(mode):
        with line_echo_server() as (port, served):
            run = mode.run(argv + [port], timeout=60)
            return run.rc, run.out, run.err, served()

    runs = three_runs(h, scenario, [(prog, call) for call in traced_calls])
    expect_eq(runs["plain"][0], (0, f"echo: {LINES} of {LINES} lines back\n", "", 1),
              f"{prog}'s status, output and connections served, without the library")
    summary_run(h, scenario, runs["plain"][0], healthy=True)


def refusal(mode, argv, port):
    """What the client shows when its connect to `port` is refused, the
    port number written PORT."""
    run = mode.run(argv + [port], timeout=60)
    return run.rc, run.out.replace(str(port), "PORT"), run.err


def refused(h, prog, argv, said, via):
    """`said`: the client's line for the refusal (PORT for the port);
    `via`: how the library learnt of it ("" from connect's return,
    "SO_ERROR" from a non-blocking connect's outcome)."""
    with closed_port() as port:
        def scenario(mode):
            return refusal(mode, argv, port)

        runs = four_runs(h, scenario, [(prog, "connect")], healthy=False)
    expect_eq(runs["plain"][0], (1, f"connect: {said}\n", ""), f"{prog}'s status and output, without the library")
    expect_records(runs, [(prog, "connect", "ECONNREFUSED", f"127.0.0.1:{port}", "error", via, False)],
                   ("prog", "call", "code", "peer", "level", "via", "injected"))


def injected_refusal(h, prog, argv, via):
    with closed_port() as port:
        reference = refusal(Mode(h, "plain"), argv, port) + (0,)
    expect_eq(reference[0], 1, f"{prog}'s status for a real refusal, without the library")
    with line_echo_server() as (port, served):
        rule = f"connect:error=ECONNREFUSED:port={port}"

        def scenario(mode):
            before = served()
            return refusal(mode, argv, port) + (served() - before,)

        faults = injected_runs(h, scenario, [rule], reference)
    expect_marked(h, faults, rule, [(prog, "connect", "ECONNREFUSED", f"127.0.0.1:{port}", via)], 1)
