"""stall and slow_close (tools/INJECT.md, "Stalls and late closes"), and
close after a time: a stalled connection carries nothing and says no error,
so only the program's own timeouts (SO_RCVTIMEO, SO_SNDTIMEO, a wait's
timeout, curl's --max-time) or stall=T's reset end its calls; a slow close
lets the peer read the end of stream only T after the program's close, which
returns at once. Each stalled scenario is compared with what the program
does against a peer that really never answers."""
import os
import shutil
import socket
import sys
import threading
import time

from cases_hold import WAYS, Server, client
from cases_real_programs import curl, http_server
from inject_harness import Skipped, case, expect, expect_eq, fnv1a, pattern


@case("stalled input lets the program's own timeouts fire")
def _(h):
    for way in WAYS + ("blocking",):
        # For real: a server that never answers; the client's 1 s timeout fires.
        real, _, plain = client(h, Server(h, delay=30), way, 1000)
        expect_eq(real, "timeout", f"{way}: the client against a server that never answers", plain.describe())
        # A server that answers at once, its answer stalled: the same outcome.
        got, ms, run = client(h, Server(h), way, 1000, inject="input:stall")
        expect_eq(got, real, f"{way}: the client under input:stall (its own 1 s timeout must fire)", run.describe())
        expect(ms >= 900, f"{way}: the client's 1 s timeout fired after {ms} ms", run.describe())
        notes = [(r["rule"], r["note"]) for r in run.injected(code="INJECTED_DELAY")]
        expect_eq(notes, [("input:stall", "input stalled: no data will arrive, until the program gives up")],
                  f"{way}: the stall's record", run.describe())


@case("stalled output gives writes no room and the waits none")
def _(h):
    for way in ("poll", "select", "epoll"):
        peer = h.peer()
        rule = "output:stall:after_bytes=4000"
        run = h.run([h.prog("stall_io"), "fill", "127.0.0.1", peer.port, way], inject=rule,
                    settings={"LEVEL": "info"}).expect_rc(0)
        expect_eq(run.out.splitlines(), ["sent 4000", "no room", "blocking send EAGAIN"],
                  f"{way}: non-blocking writes, a wait for room, a blocking write under SO_SNDTIMEO", run.describe())
        got = peer.wait(1)[0]
        expect_eq((len(got["data"]), fnv1a(got["data"]), got["end"]), (4000, fnv1a(pattern(4000)), "EOF"),
                  f"{way}: what the peer received (the bytes before the stall, then the program's close)",
                  run.describe())
        expect_eq([r["note"] for r in run.injected(code="INJECTED_DELAY")],
                  ["output stalled: nothing sent will arrive, writes get no room, until the program gives up"],
                  f"{way}: the stall's record", run.describe())


@case("a stalled read is interrupted by signals as a real one is")
def _(h):
    for how, outcome in (("plain", "recv EINTR"), ("restart", "recv restarted, handler ran 2 times")):
        argv = [h.prog("stall_io"), "signal", "127.0.0.1"]
        # For real: a peer that sends nothing (a recv that blocks).
        real = h.run(argv + [h.peer().port, how], preload=False).expect_rc(0)
        expect_eq(real.out.strip(), outcome, f"{how}: a blocking recv from a silent peer, SIGALRM", real.describe())
        # A peer that sends at once, its data stalled: the same.
        run = h.run(argv + [h.peer(send=5).port, how], inject="input:stall").expect_rc(0)
        expect_eq(run.out.strip(), outcome, f"{how}: the same recv under input:stall", run.describe())


@case("a stalled call ends as a real blocked one does: cancelled, or woken by a shutdown")
def _(h):
    def silent_listener():
        # Connections complete in the kernel's backlog and nothing reads
        # them: a blocking send fills the buffers, then blocks.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        h.closers.append(s.close)
        return s.getsockname()[1]

    for how, rule, outcome in (("cancel", "input:stall", "recv cancelled"),
                               ("shutrd", "input:stall", "recv 0"),
                               ("shutwr", "output:stall", "send EPIPE")):
        argv = [h.prog("stall_io"), "wake", "127.0.0.1"]
        # For real: a peer that sends nothing, or reads nothing.
        real = h.run(argv + [silent_listener(), how], preload=False).expect_rc(0)
        expect_eq(real.out.strip(), outcome, f"{how}: a call blocked on a silent peer", real.describe())
        # A peer that sends at once and reads everything, the connection stalled: the same.
        run = h.run(argv + [h.peer(send=5).port, how], inject=rule).expect_rc(0)
        expect_eq(run.out.strip(), outcome, f"{how}: the same call under {rule}", run.describe())


@case("stall=T resets the connection after T")
def _(h):
    for way in ("poll", "select", "epoll"):
        peer = h.peer(send=3000)
        rule = "input:stall=1s:after_bytes=1000"
        run = h.run([h.prog("hold_wait"), "drain", "127.0.0.1", peer.port, way, 20000], inject=rule,
                    settings={"LEVEL": "info"}).expect_rc(0)
        expect_eq(run.out, "got 1000 end=ECONNRESET\n",
                  f"{way}: 1000 bytes, then the stall, then its reset (the wait must wake for it)", run.describe())
        expect_eq(peer.wait(1)[0]["end"], "ECONNRESET", f"{way}: how the peer's read ended", run.describe())
        recs = [(r["code"], r["note"]) for r in run.injected()]
        expect_eq(recs, [("INJECTED_DELAY", "input stalled: no data will arrive; the connection is reset in 1 s"),
                         ("ECONNRESET", "the stalled connection was reset 1 s after the stall began: "
                                        "the peer received an RST")],
                  f"{way}: the records", run.describe())


@case("curl gives up on a stalled download with its own timeout")
def _(h):
    port = http_server(h)
    with open(os.path.join(h.path("www"), "big.bin"), "wb") as f:
        f.write(os.urandom(200000))
    url = f"http://127.0.0.1:{port}/big.bin"
    rule = f"input:stall:port={port}:after_bytes=1000"
    run = h.run([curl(), "-sS", "--max-time", "2", "-o", h.path("out.bin"), url], inject=rule,
                settings={"LEVEL": "info"})
    expect_eq(run.rc, 28, "curl's exit status (28: its own --max-time ran out)", run.describe())
    expect("timed out" in run.err, "curl does not say it timed out", run.describe())
    expect_eq(os.path.getsize(h.path("out.bin")) < 1000, True, "curl received less than the 1000 bytes",
              run.describe())
    expect_eq([(r["call"], r["rule"], r["note"]) for r in run.injected()],
              [("poll", f"input:stall:port={port}:after_bytes=1KB", "input stalled: no data will arrive, until the "
                "program gives up")], "the stall's record (begun by the poll that found the data)", run.describe())


# A client that connects, sends, closes, reuses the closed number, and says
# when it closed (CLOCK_MONOTONIC: the same clock in every process).
SLOW_CLIENT = r"""
import os, select, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"bye")
number = s.fileno()
s.close()
closed = time.monotonic()
again = socket.socket()
print("closed", closed, "reused", again.fileno() == number, flush=True)
again.close()
if sys.argv[2] == "linger":
    time.sleep(float(sys.argv[3]))
    socket.socket().close()  # a rule-checked call after the time
    time.sleep(1)
if sys.argv[2].startswith("wait-"):
    # Idle in a wait on a socket that never becomes readable (an event loop
    # with nothing to do), for ARGV[3] seconds.
    quiet, _other = socket.socketpair()
    way, secs = sys.argv[2][5:], float(sys.argv[3])
    if way == "poll":
        p = select.poll()
        p.register(quiet, select.POLLIN)
        got = p.poll(secs * 1000)
    elif way == "select":
        got = select.select([quiet], [], [], secs)[0]
    else:
        e = select.epoll()
        e.register(quiet.fileno(), select.EPOLLIN)
        got = e.poll(secs)
    print("woke with", len(got), flush=True)
"""


class EofClock:
    """A loopback server in the driver: for each connection, how its reads
    ended, when (time.monotonic()), the data, and when the data came."""

    def __init__(self, h):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.ends = []
        self.cond = threading.Condition()
        h.closers.append(self.sock.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(20)
            data = b""
            first = None
            try:
                while True:
                    chunk = conn.recv(100)
                    if not chunk:
                        break
                    first = first or time.monotonic()
                    data += chunk
                end = ("EOF", time.monotonic(), data, first)
            except OSError as e:
                end = (str(e), time.monotonic(), data, first)
            conn.close()
            with self.cond:
                self.ends.append(end)
                self.cond.notify_all()

    def wait(self):
        with self.cond:
            expect(self.cond.wait_for(lambda: self.ends, 20), "the server saw no end of stream within 20 s")
            return self.ends[0]


@case("slow_close lets the peer see the close T later")
def _(h):
    script = h.path("slow_client.py")
    with open(script, "w") as f:
        f.write(SLOW_CLIENT)
    # exit: the program ends at once, the library's exit waits for the FIN's
    # time; linger: the program goes on, its next rule-checked call after
    # the time sends the FIN.
    for mode in ("exit", "linger"):
        server = EofClock(h)
        rule = "close:slow_close=1500ms:kind=tcp"
        run = h.run([sys.executable, script, server.port, mode, "2"], inject=rule,
                    settings={"LEVEL": "info"}).expect_rc(0)
        words = run.out.split()
        expect(len(words) == 4 and words[0] == "closed", f"{mode}: the client printed no close time", run.describe())
        end, at, data, _ = server.wait()
        expect_eq((end, data), ("EOF", b"bye"), f"{mode}: what the server read", run.describe())
        # 1.4: the client reads its clock after its close, the server after waking.
        expect(at - float(words[1]) >= 1.4, f"{mode}: the server read the end {at - float(words[1]):.3f} s after the "
               "close, not 1.5 s", run.describe())
        expect_eq(words[3], "True", f"{mode}: the closed number is the program's again at once", run.describe())
        expect_eq([(r["call"], r["note"]) for r in run.injected()],
                  [("close", "the FIN was delayed 1.5 s: the peer reads the end of stream then")],
                  f"{mode}: the record", run.describe())


@case("slow_close: a program idle in a wait sends the FIN at its time")
def _(h):
    script = h.path("slow_client.py")
    with open(script, "w") as f:
        f.write(SLOW_CLIENT)
    for way in ("poll", "select", "epoll"):
        server = EofClock(h)
        run = h.run([sys.executable, script, server.port, f"wait-{way}", "4"], inject="close:slow_close=1s:kind=tcp",
                    settings={"LEVEL": "info"}).expect_rc(0)
        lines = run.out.splitlines()
        expect(len(lines) == 2 and lines[0].startswith("closed"), f"{way}: what the client printed", run.describe())
        # The program's own wait is untouched: its whole timeout, nothing ready.
        expect_eq(lines[1], "woke with 0", f"{way}: the program's wait", run.describe())
        end, at, data, _ = server.wait()
        expect_eq((end, data), ("EOF", b"bye"), f"{way}: what the server read", run.describe())
        after = at - float(lines[0].split()[1])
        # Due at 1 s; the program's 4 s wait must not hold the FIN back to its end.
        expect(0.9 <= after < 3, f"{way}: the server read the end {after:.3f} s after the close, not 1 s (the "
               "wait held it back)", run.describe())


@case("socat's shutdown reaches the peer T later under slow_close")
def _(h):
    socat = shutil.which("socat")
    if socat is None:
        raise Skipped("socat is not installed")
    src = h.path("hello.txt")
    with open(src, "w") as f:
        f.write("hello\n")
    # socat sends the file, shuts the connection down for writing at its
    # end (the FIN), waits for the peer's end (-t 5), then closes.
    rule = "shutdown:slow_close=1500ms"
    server = EofClock(h)
    run = h.run([socat, "-t", "5", "-u", f"OPEN:{src}", f"TCP:127.0.0.1:{server.port}"], inject=rule,
                settings={"LEVEL": "info"}).expect_rc(0)
    end, at, data, first = server.wait()
    expect_eq((end, data), ("EOF", b"hello\n"), "what the server read", run.describe())
    # The data went out before the shutdown: its FIN comes 1.5 s after them
    # (1.4: the server's clock is read when its thread wakes, for each read).
    expect(at - first >= 1.4, f"the end of stream came {at - first:.3f} s after the data, not 1.5 s",
           run.describe())
    recs = {(r["call"], r["rule"], r["note"]) for r in run.injected()}
    expect_eq(recs, {("shutdown", "shutdown:slow_close=1500ms",
                      "the FIN was delayed 1.5 s: the peer reads the end of stream then")},
              "the records (socat shuts down, then shuts down both ways)", run.describe())


# A peer that sends a chunk every 10 ms for up to 10 s and notes when it
# reads the end of stream (a FIN).
class Streamer:
    def __init__(self, h):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.result = None
        self.cond = threading.Condition()
        h.closers.append(self.sock.close)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        start = time.monotonic()
        end = "none"
        conn.setblocking(False)
        while time.monotonic() - start < 10:
            try:
                if conn.recv(100) == b"":
                    end = "EOF"
                    break
            except BlockingIOError:
                pass
            except OSError as e:
                end = str(e)
                break
            try:
                conn.send(b"x" * 100)
            except BlockingIOError:
                pass
            except OSError as e:
                end = str(e)
                break
            time.sleep(0.01)
        with self.cond:
            self.result = (end, time.monotonic() - start)
            self.cond.notify_all()
        conn.close()

    def wait(self):
        with self.cond:
            expect(self.cond.wait_for(lambda: self.result, 20), "the streaming peer did not finish within 20 s")
            return self.result


@case("close after=2s ends idle and busy connections at 2 s")
def _(h):
    rule = "io:close:after=2s"
    # Idle: the client waits for an answer that never comes; the close is
    # due at 2 s and its wait wakes for it.
    for way in ("poll", "select", "epoll"):
        got, ms, run = client(h, Server(h, delay=30), way, 10000, inject=rule, request=None)
        expect_eq(got, "eof", f"{way}: an idle client under {rule}", run.describe())
        expect(ms >= 1900, f"{way}: the close due at 2 s came after {ms} ms", run.describe())
    # Busy: data flows all along; the first read at 2 s ends, the peer reads a FIN.
    peer = Streamer(h)
    run = h.run([h.prog("hold_wait"), "drain", "127.0.0.1", peer.port, "poll", 10000], inject=rule).expect_rc(0)
    words = run.out.split()
    expect(len(words) == 3 and words[2] == "end=EOF" and int(words[1]) > 0,
           "the busy client read data, then the end of stream", run.describe())
    end, seconds = peer.wait()
    expect_eq(end, "EOF", "how the streaming peer's connection ended", run.describe())
    expect(seconds >= 2.0, f"the peer read the FIN {seconds:.3f} s after the connection began", run.describe())
