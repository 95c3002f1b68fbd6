"""Injected faults that must look real through the program's own waits:
delayed input is a slow peer (poll, select and epoll do not
report it readable before it would have arrived, so the program's own
timeouts fire and an event loop keeps serving its other clients); a fault
due by the connection's age reaches a program that only reads when a wait
says so; and after_bytes=N lets exactly N bytes through. Each scenario runs
with the library and the fault, and without it against a peer that really
behaves that way: the program's output must be the same."""
import os
import socket
import struct
import sys
import threading
import time

from inject_harness import case, expect, expect_eq, fnv1a, pattern, reserved_port, wait_for_line
from cases_real_programs import curl

WAYS = ("poll", "ppoll", "select", "pselect", "epoll", "epollet")


class Server:
    """A loopback TCP server in the driver. Each connection: after `delay`
    seconds it answers the first request with "pong:" + request, or, with
    `end` set, ends the connection ("eof": a FIN, "reset": an RST) without
    a word; with `send`, it sends that many bytes of the pattern at once and
    ends its side (with `end` too: half a second later, that way; with
    `delay` instead: never, it stays idle). With `close`, it closes right after its answer; else it
    keeps the connection open until the driver ends."""

    def __init__(self, h, delay=0.0, end=None, send=None, close=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.delay, self.end, self.send, self.close_after = delay, end, send, close
        self.conns = []
        h.closers.append(self.close)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.send is not None:
                conn.sendall(pattern(self.send))
                if self.end:
                    # The bytes first, then (half a second on) the end.
                    time.sleep(0.5)
                    if self.end == "reset":
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                elif self.end is None and self.delay == 0:
                    conn.shutdown(socket.SHUT_WR)
                return
            if self.end:
                time.sleep(self.delay)
                if self.end == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            request = conn.recv(100)
            time.sleep(self.delay)
            conn.sendall(b"pong:" + request)
            if self.close_after:
                conn.close()
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def client(h, server, way, timeout_ms, inject=None, request="ping"):
    """hold_wait's client: (its outcome line, the ms it waited)."""
    argv = [h.prog("hold_wait"), "client", "127.0.0.1", server.port, way, timeout_ms] + ([request] if request else [])
    run = h.run(argv, inject=inject, preload=inject is not None, settings={"LEVEL": "info"}).expect_rc(0)
    lines = run.out.splitlines()
    expect(len(lines) == 2 and lines[1].startswith("ms="), "hold_wait client printed no outcome", run.describe())
    return lines[0], int(lines[1][3:]), run


def timeout_cases(h, ways):
    for way in ways:
        # A slow server for real (no library): the client's 1 s timeout fires.
        real, _, plain = client(h, Server(h, delay=3), way, 1000)
        expect_eq(real, "timeout", f"{way}: the client against a server that answers after 3 s", plain.describe())
        # The same client, the same timeout, a server that answers at once
        # and the answer delayed 3 s by a rule: the same outcome.
        got, ms, run = client(h, Server(h), way, 1000, inject="input:delay=3s")
        expect_eq(got, real, f"{way}: the client under input:delay=3s (its own 1 s timeout must fire)",
                  run.describe())
        expect(ms >= 900, f"{way}: the client's 1 s timeout fired after {ms} ms", run.describe())
        notices = run.injected(code="INJECTED_DELAY")
        expect_eq([n["rule"] for n in notices], ["input:delay=3s"], f"{way}: the delay's notice", run.describe())
        # With time enough, the answer comes, and not before it is due.
        got, ms, run = client(h, Server(h), way, 8000, inject="input:delay=3s")
        expect_eq(got, "reply 9", f"{way}: the client waiting 8 s under input:delay=3s", run.describe())
        expect(ms >= 2900, f"{way}: the answer delayed 3 s came after {ms} ms", run.describe())


@case("delayed input lets poll and ppoll time out")
def _(h):
    timeout_cases(h, ("poll", "ppoll"))


@case("delayed input lets select and pselect time out")
def _(h):
    timeout_cases(h, ("select", "pselect"))


@case("delayed input lets epoll and a blocking read time out")
def _(h):
    # blocking: a blocking recv under SO_RCVTIMEO (EAGAIN when it runs out).
    timeout_cases(h, ("epoll", "epollet", "blocking"))


@case("delayed input holds the peer's end of stream behind its data")
def _(h):
    # The server answers and closes at once: the end of stream (POLLIN,
    # POLLRDHUP, EPOLLHUP after the client's own close) comes after the
    # answer, as from a slow peer whose answer and FIN both come 3 s late.
    for way in ("poll", "select", "epoll"):
        real, _, plain = client(h, Server(h, delay=3, close=True), way, 1000)
        got, ms, run = client(h, Server(h, close=True), way, 1000, inject="input:delay=3s")
        expect_eq((real, got), ("timeout", "timeout"), f"{way}: a 1 s wait for an answer that comes 3 s late, "
                  "then the end of stream (for real, then under input:delay=3s)", run.describe())
        real, _, plain = client(h, Server(h, delay=3, close=True), way, 8000)
        got, ms, run = client(h, Server(h, close=True), way, 8000, inject="input:delay=3s")
        expect_eq((real, got), ("reply 9", "reply 9"), f"{way}: an 8 s wait: the answer first", run.describe())
        expect(ms >= 2900, f"{way}: the answer delayed 3 s came after {ms} ms", run.describe())


def event_loop(h, way, inject, a_port, a_waits):
    """Two clients of hold_wait's event-loop server: A (from a_port) sends
    after `a_waits` s, B right after A connected. Returns the order the
    answers came in, and the time A's answer took from A's connect."""
    proc = h.start([h.prog("hold_wait"), "server", way], settings={"INJECT": inject} if inject else None,
                   preload=inject is not None)
    port = int(wait_for_line(proc, r"port (\d+)").group(1))
    a = socket.socket()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    a.bind(("127.0.0.1", a_port))
    a.connect(("127.0.0.1", port))
    start = time.monotonic()
    b = socket.create_connection(("127.0.0.1", port))
    order = []
    took = {}

    def talk(name, sock, wait):
        time.sleep(wait)
        sock.sendall(name.encode())
        sock.settimeout(20)
        reply = sock.recv(100)
        took[name] = time.monotonic() - start
        order.append((name, reply.decode()))

    threads = [threading.Thread(target=talk, args=("A", a, a_waits)), threading.Thread(target=talk, args=("B", b, 0.3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a.close()
    b.close()
    return order, took


@case("delayed input of one client leaves an event loop serving the others")
def _(h):
    for way in ("poll", "select", "epoll", "epollet"):
        with reserved_port() as a_port:
            # For real: A is a slow client, whose request comes 3 s late.
            real, _ = event_loop(h, way, None, a_port, 3)
            expect_eq(real, [("B", "echo:B"), ("A", "echo:A")], f"{way}: answers to a slow A and a quick B", "")
            # A's request delayed 3 s by a rule on the server's side: B is
            # answered at once, A when its request is due.
            got, took = event_loop(h, way, f"input:delay=3s:port={a_port}", a_port, 0)
            expect_eq(got, real, f"{way}: answers under input:delay=3s for A's connection only "
                                 f"(B's request came 0.3 s after A's)", f"times: {took}")
            expect(took["A"] >= 2.9, f"{way}: A's answer came {took['A']:.2f} s after its request, "
                                     "before the 3 s delay", "")


class Echo:
    """A loopback TCP server in the driver answering each chunk with "echo:"
    and the chunk; the answers numbered in `late` (from 1) come 2 s late."""

    def __init__(self, h, late=()):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.late = set(late)
        h.closers.append(self.sock.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                n = 0
                while True:
                    data = conn.recv(100)
                    if not data:
                        return
                    n += 1
                    if n in self.late:
                        time.sleep(2)
                    conn.sendall(b"echo:" + data)
        except OSError:
            pass


# A client with a 1 s timeout per answer (Python's socket timeout: poll, then
# recv); after a timeout it waits 3 s and takes the late answer.
PY_CLIENT = """
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.settimeout(1)
for i in range(4):
    c.sendall(b"x%d" % i)
    try:
        print(i, c.recv(100).decode())
    except socket.timeout:
        print(i, "timeout")
        time.sleep(3)
        print(i, "late", c.recv(100).decode())
"""


@case("a counted delay holds back only the input it counts")
def _(h):
    script = h.path("client.py")
    with open(script, "w") as f:
        f.write(PY_CLIENT)
    real = h.run([sys.executable, script, Echo(h, late=[2]).port], preload=False).expect_rc(0)
    expect_eq(real.out.splitlines(), ["0 echo:x0", "1 timeout", "1 late echo:x1", "2 echo:x2", "3 echo:x3"],
              "a Python client against a server whose second answer comes 2 s late", real.describe())
    # The wait that first finds the second answer ready takes the rule's
    # call number 2, and the read after it is not counted again.
    run = h.run([sys.executable, script, Echo(h).port], inject="input:delay=2s:nth=2:kind=tcp").expect_rc(0)
    expect_eq(run.out, real.out, "the same client under input:delay=2s:nth=2", run.describe())
    expect_eq(run.rule_counts(), {"input:delay=2s:kind=tcp:nth=2": 1}, "the summary's count", run.describe())


def due_cases(h, action, end, outcome):
    for way in WAYS:
        real, _, plain = client(h, Server(h, delay=1, end=end), way, 10000, request=None)
        expect_eq(real, outcome, f"{way}: an idle client whose server ends the connection after 1 s",
                  plain.describe())
        rule = f"input:{action}:after=1s"
        got, ms, run = client(h, Server(h), way, 10000, inject=rule, request=None)
        expect_eq(got, real, f"{way}: an idle client under {rule} (the wait must wake for it)", run.describe())
        expect(ms >= 900, f"{way}: the fault due after 1 s came after {ms} ms", run.describe())


@case("an idle connection meets an injected end of stream when it is due")
def _(h):
    due_cases(h, "eof", "eof", "eof")


@case("an idle connection meets an injected reset when it is due")
def _(h):
    due_cases(h, "reset", "reset", "error ECONNRESET")


@case("an idle connection meets an after_bytes fault once the bytes came in")
def _(h):
    # The peer sends 1000 bytes and then nothing: the read that meets
    # after_bytes=1000 is due at once, though no more data comes.
    for way in ("poll", "select", "epoll", "epollet"):
        argv = [h.prog("hold_wait"), "drain", "127.0.0.1"]
        real = h.run(argv + [Server(h, send=1000, end="reset").port, way, 10000], preload=False).expect_rc(0)
        expect_eq(real.out, "got 1000 end=ECONNRESET\n", f"{way}: 1000 bytes, then a reset for real",
                  real.describe())
        run = h.run(argv + [Server(h, send=1000, delay=1).port, way, 10000],
                    inject="input:reset:after_bytes=1000").expect_rc(0)
        expect_eq(run.out, real.out, f"{way}: 1000 bytes from an idle peer under input:reset:after_bytes=1000",
                  run.describe())


def sockops(h, peer, steps, inject=None):
    argv = [h.prog("sockops"), "connect", "127.0.0.1", peer.port] + steps
    return h.run(argv, inject=inject, preload=inject is not None).expect_rc(0)


@case("after_bytes lets exactly N bytes in")
def _(h):
    for n in (200000, 4097):
        for via in ("recv", "read", "readv", "recvmsg"):
            # For real: a peer that sends N bytes and ends the stream.
            plain = sockops(h, Server(h, send=n), ["sleep", 100, f"recv/{via}", 300000, 65536])
            run = sockops(h, h.peer(send=300000), ["sleep", 100, f"recv/{via}", 300000, 65536],
                          inject=f"input:eof:after_bytes={n}")
            step, real = run.step("recv"), plain.step("recv")
            expect_eq((step["got"], step["end"], step["intact"], step["sum"]),
                      (real["got"], real["end"], real["intact"], real["sum"]),
                      f"{via}: input:eof:after_bytes={n} against a peer that sends {n} bytes and ends",
                      run.describe())
            expect_eq((step["got"], step["sum"]), (str(n), fnv1a(pattern(n))), f"{via}: the bytes that came in",
                      run.describe())
        for action, end in (("reset", "ECONNRESET"), ("error=ETIMEDOUT", "ETIMEDOUT")):
            run = sockops(h, h.peer(send=300000), ["sleep", 100, "recv", 300000, 65536],
                          inject=f"input:{action}:after_bytes={n}")
            step = run.step("recv")
            expect_eq((step["got"], step["end"], step["intact"]), (str(n), end, "yes"),
                      f"input:{action}:after_bytes={n}: bytes, then the fault", run.describe())


@case("after_bytes lets exactly N bytes out")
def _(h):
    for n in (200001, 4097):
        for via in ("send", "write", "writev", "sendmsg"):
            # An error that leaves the connection up: the program stops
            # sending and closes, and the peer has exactly what went out.
            peer = h.peer()
            rule = f"output:error=ENOBUFS:after_bytes={n}"
            run = sockops(h, peer, [f"send/{via}", 300000], inject=rule)
            step = run.step("send")
            expect_eq((step["sent"], step["err"]), (str(n), "ENOBUFS"), f"{via}: bytes sent under {rule}, then the "
                      "fault", run.describe())
            got = peer.wait(1)[0]
            expect_eq((len(got["data"]), got["data"] == pattern(n), got["end"]), (n, True, "EOF"),
                      f"{via}: what the peer received, and how it ended", run.describe())
            # A reset: the same count (what the peer then reads is up to its
            # kernel: an RST discards what it has not read yet).
            run = sockops(h, h.peer(), [f"send/{via}", 300000], inject=f"output:reset:after_bytes={n}")
            expect_eq((run.step("send")["sent"], run.step("send")["err"]), (str(n), "ECONNRESET"),
                      f"{via}: bytes sent under output:reset:after_bytes={n}, then the fault", run.describe())
    # A delay takes effect at the boundary too: the bytes before it go at once.
    peer = h.peer()
    run = sockops(h, peer, ["send1", 10000, "send1", 10000], inject="output:delay=1s:after_bytes=4097")
    expect_eq([s["sent"] for s in run.steps("send1")], ["4097", "10000"],
              "send1 x2 under output:delay=1s:after_bytes=4097", run.describe())
    expect(int(run.steps("send1")[1]["ms"]) >= 900, "the send past the boundary was not delayed", run.describe())


@case("after_bytes never cuts a datagram")
def _(h):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    h.closers.append(rx.close)
    rx.settimeout(5)
    argv = [h.prog("sockops"), "udp", "127.0.0.1", rx.getsockname()[1], "send1", 600, "send1", 600, "send1", 300]
    run = h.run(argv, inject="output:error=ENOBUFS:after_bytes=1000:times=1").expect_rc(0)
    # The second datagram would carry the connection past 1000 bytes: it
    # meets the rule whole; the third goes.
    expect_eq([(s["sent"], s["err"]) for s in run.steps("send1")], [("600", "OK"), ("0", "ENOBUFS"), ("300", "OK")],
              "datagrams of 600, 600 and 300 bytes under after_bytes=1000", run.describe())
    sizes = [len(rx.recv(2000)) for _ in range(2)]
    expect_eq(sizes, [600, 300], "the datagrams the peer received, whole", run.describe())


@case("curl download reset after exactly N bytes")
def _(h):
    root = h.path("www")
    os.mkdir(root)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(300000))
    proc = h.start([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root],
                   preload=False)
    port = int(wait_for_line(proc, r"port (\d+)").group(1))
    argv = [curl(), "-sS", "-o", "/dev/null", "-w", "%{size_header} %{size_download}\n",
            f"http://127.0.0.1:{port}/big.bin"]
    plain = h.run(argv, preload=False).expect_rc(0)
    header, body = map(int, plain.out.split())
    expect_eq(body, 300000, "curl's download without rules", plain.describe())
    for n in (200000, 4097 if header < 4097 else header + 4097):
        run = h.run(argv, inject=f"input:reset:after_bytes={n}")
        expect_eq(run.rc, 56, f"after_bytes={n}: curl's exit status (56: failure receiving data)", run.describe())
        got_header, got_body = map(int, run.out.split())
        expect_eq(got_header + got_body, n, f"after_bytes={n}: bytes curl received (headers and body)",
                  run.describe())
