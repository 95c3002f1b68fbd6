"""Datagram faults (drop, duplicate, reorder, truncate) on UDP and unix
datagram sockets: the small program `dgram` sends from one socket to another
of its own (a rule on output acts on the sender, one on input on the
receiver), and dig asks a DNS responder in the driver. Every fault is a
record marked injected, with its rule and a note saying what was done."""
import shutil
import socket
import struct
import threading
import time

from inject_harness import Skipped, case, expect, expect_eq


def dgram(h, rule, *steps, family="udp"):
    run = h.run([h.prog("dgram"), family, *steps], inject=rule, settings={"LEVEL": "info"}).expect_rc(0)
    return run


def got(run):
    """The sequence numbers the program received, in order."""
    return [int(f["seq"]) for f in run.steps("got")]


def notes(run, rule):
    recs = run.injected(code="INJECTED_DATAGRAM")
    for r in recs:
        expect_eq(r.get("rule"), rule, "the rule named by a datagram fault's record", run.describe())
    return [r.get("note", "") for r in recs]


def expect_note(run, rule, text, count=1):
    found = [n for n in notes(run, rule) if text in n]
    expect_eq(len(found), count, f"records whose note says {text!r}", run.describe())


@case("drop: a dropped sent datagram says it went, and never arrives (udp and unix)")
def _(h):
    for family in ("udp", "unix"):
        run = dgram(h, "output:drop:nth=2", "send", 3, 100, "recvnb", 4, 200, family=family)
        expect_eq([f["ret"] for f in run.steps("sent")], ["100"] * 3, "what each send returned", run.describe())
        expect_eq(got(run), [0, 2], "the datagrams received", run.describe())
        expect_eq(run.step("err")["errno"], "EAGAIN", "the read after the last", run.describe())
        expect_note(run, "output:drop:nth=2", "the datagram was dropped (100 bytes): the send says it went")


@case("drop: a dropped received datagram is never seen, a blocking read waits for the next, a non-blocking one gets EAGAIN")
def _(h):
    run = dgram(h, "input:drop:nth=1", "send", 2, 100, "recv", 1, 200, "recvnb", 1, 200)
    expect_eq(got(run), [1], "the datagrams received (blocking)", run.describe())
    expect_eq(run.step("got")["src"], "ok", "the source address of the one received", run.describe())
    expect_eq(run.step("err")["errno"], "EAGAIN", "the non-blocking read with none left", run.describe())
    expect_note(run, "input:drop:nth=1", "the datagram was dropped (100 bytes): the program never sees it")
    run = dgram(h, "input:drop:nth=1", "send", 1, 100, "recvnb", 1, 200, family="unix")
    expect_eq(run.step("err")["errno"], "EAGAIN", "a non-blocking read whose only datagram was dropped", run.describe())
    # Blocking, nothing after the dropped one: the program's own SO_RCVTIMEO ends the wait.
    run = dgram(h, "input:drop:nth=1", "send", 1, 100, "recv", 1, 200)
    expect_eq(run.step("err")["errno"], "EAGAIN", "a blocking read whose only datagram was dropped", run.describe())


@case("drop: a dropped received datagram never wakes poll, select or epoll, but one behind it does")
def _(h):
    rule = "input:drop:nth=1"
    for family in ("udp", "unix"):
        for wait in ("poll", "select", "epollet", "epolloneshot"):
            run = dgram(h, rule, "send", 1, 100, wait, 300, "send", 1, 100, wait, 300, "recvnb", 2, 200,
                        family=family)
            expect_eq([f["ready"] for f in run.steps(wait)], ["0", "1"],
                      f"{wait} after the dropped datagram, then after the next", run.describe())
            expect_eq(got(run), [1], "the datagrams received", run.describe())
            expect_note(run, rule, "the datagram was dropped (100 bytes): the program never sees it")
            expect_eq([r.get("call") for r in run.injected(code="INJECTED_DATAGRAM")],
                      ["epoll_wait" if wait.startswith("epoll") else wait], "the call that dropped it",
                      run.describe())
            # A one-shot registration the kernel disarmed for the dropped
            # datagram reports the next one all the same (the second wait).
            # Two in: the wait drops the first and reports the second (an
            # edge-triggered registration gets no new edge for it).
            run = dgram(h, rule, "send", 2, 100, wait, 300, "recvnb", 2, 200, family=family)
            expect_eq(run.step(wait)["ready"], "1", f"{wait} with a datagram behind the dropped one", run.describe())
            expect_eq(got(run), [1], "the datagrams received", run.describe())
    # The wait asks the rules about the datagram it finds; its read does
    # not ask again: nth=2 is the second datagram, not the first one's read.
    rule = "input:drop:nth=2"
    run = dgram(h, rule, "send", 3, 100, "poll", 300, "recvnb", 3, 200)
    expect_eq(got(run), [0, 2], "the datagrams received", run.describe())
    expect_note(run, rule, "the datagram was dropped")


@case("drop with prob: each datagram is one draw, and the records count the losses")
def _(h):
    rule = "output:drop:prob=0.5"
    run = h.run([h.prog("dgram"), "udp", "send", 40, 32, "recvnb", 41, 64], inject=rule,
                settings={"LEVEL": "info", "SEED": 7}).expect_rc(0)
    received = got(run)
    dropped = len(notes(run, rule))
    expect(0 < dropped < 40, f"{dropped} of 40 dropped with prob=0.5", run.describe())
    expect_eq(len(received) + dropped, 40, "datagrams received plus those dropped", run.describe())
    expect_eq(received, sorted(received), "the order of those received", run.describe())


@case("duplicate: a sent datagram arrives twice, a received one is read twice from the same address")
def _(h):
    run = dgram(h, "output:duplicate:nth=1", "send", 2, 100, "recvnb", 4, 200, family="unix")
    expect_eq(got(run), [0, 0, 1], "the datagrams received", run.describe())
    expect_note(run, "output:duplicate:nth=1", "sent twice")
    run = dgram(h, "input:duplicate:nth=1", "send", 2, 100, "recv", 3, 200)
    expect_eq(got(run), [0, 0, 1], "the datagrams read", run.describe())
    expect_eq([f["src"] for f in run.steps("got")], ["ok"] * 3, "their source addresses", run.describe())
    expect_note(run, "input:duplicate:nth=1", "the datagram arrives twice: the next read gets it again")


@case("reorder=N: one datagram is held back behind N later ones, sent or received")
def _(h):
    for rule in ("output:reorder=2:nth=1", "input:reorder=2:nth=1"):
        run = dgram(h, rule, "send", 4, 100, "recvnb", 5, 200)
        expect_eq(got(run), [1, 2, 0, 3], f"the order under {rule}", run.describe())
        expect_eq([f["src"] for f in run.steps("got")], ["ok"] * 4, "their source addresses", run.describe())
        expect_note(run, rule, "held back behind 2 datagrams (100 bytes)")


@case("reorder=DURATION: a held received datagram makes poll wake when it is due, a held sent one goes out at its time")
def _(h):
    rule = "input:reorder=100ms:nth=1"
    run = dgram(h, rule, "send", 1, 100, "recvnb", 1, 200, "poll", 5000, "recvnb", 1, 200)
    expect_eq(run.step("err")["errno"], "EAGAIN", "the read while the datagram is held", run.describe())
    expect_eq(run.step("poll")["ready"], "1", "poll while the datagram is held", run.describe())
    expect_eq(got(run), [0], "the datagram read once due", run.describe())
    expect_note(run, rule, "held back 100.000 ms (100 bytes)")
    run = dgram(h, "input:reorder=100ms:nth=1", "send", 1, 100, "recv", 1, 200)
    expect_eq(got(run), [0], "a blocking read gets the held datagram when it is due", run.describe())
    # Held longer than the program's SO_RCVTIMEO (1 s): its own timeout ends the read.
    run = dgram(h, "input:reorder=5s:nth=1", "send", 1, 100, "recv", 1, 200)
    expect_eq(run.step("err")["errno"], "EAGAIN", "a blocking read whose SO_RCVTIMEO ends first", run.describe())
    rule = "output:reorder=50ms:nth=1"
    run = dgram(h, rule, "send", 2, 100, "sleep", 100, "send", 1, 100, "recvnb", 4, 200)
    expect_eq(got(run), [1, 0, 2], "the order of the datagrams sent", run.describe())
    # The sender makes no call after it: the datagram goes out at its time
    # all the same, while the program waits (its poll on the receiving
    # socket, up to 5 s, sees it come).
    run = dgram(h, rule, "send", 1, 100, "poll", 5000, "recvnb", 1, 200)
    expect_eq(run.step("poll")["ready"], "1", "the receiver's poll while the sent datagram is held", run.describe())
    expect_eq(got(run), [0], "the datagram sent at its time", run.describe())


@case("reorder: a held sent datagram goes out at close or at exit, never lost")
def _(h):
    run = dgram(h, "output:reorder=5:nth=1", "send", 2, 100, "closeb", "recvnb", 3, 200)
    expect_eq(got(run), [1, 0], "the datagrams received after the sender closed", run.describe())
    # At exit: received by the driver, which is not under the library.
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    h.closers.append(rx.close)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    run = dgram(h, "output:reorder=5:nth=1", "target", rx.getsockname()[1], "send", 2, 100)
    seqs = [struct.unpack("<I", rx.recv(200)[:4])[0] for _ in range(2)]
    expect_eq(seqs, [1, 0], "the datagrams the driver received", run.describe())


@case("truncate: a received datagram is cut as a short buffer cuts it (MSG_TRUNC), a sent one goes out cut")
def _(h):
    rule = "input:truncate=10"
    run = dgram(h, rule, "send", 2, 100, "recvmsg", 1, 200, "recv", 1, 200)
    expect_eq(run.step("got")["len"], "10", "recvmsg's length", run.describe())
    expect_eq(run.step("got")["trunc"], "1", "recvmsg's MSG_TRUNC", run.describe())
    expect_eq(run.step("got", 1)["len"], "10", "recvfrom's length", run.describe())
    expect_note(run, rule, "cut to 10 of 100 bytes", count=2)
    rule = "output:truncate=10"
    run = dgram(h, rule, "send", 1, 100, "recvmsg", 1, 200, family="unix")
    expect_eq(run.step("sent")["ret"], "100", "what the send returned", run.describe())
    expect_eq(run.step("got")["len"], "10", "the datagram received", run.describe())
    expect_note(run, rule, "cut to 10 of 100 bytes: the send says all went")


@case("sendmmsg and recvmmsg count and act per datagram")
def _(h):
    rule = "output:drop:every=2"
    run = dgram(h, rule, "sendmmsg", 4, 100, "recvnb", 5, 200)
    expect_eq(run.step("sent")["ret"], "4", "sendmmsg's count", run.describe())
    expect_eq(run.step("sent")["lens"], "100,100,100,100", "each message's msg_len", run.describe())
    expect_eq(got(run), [0, 2], "the datagrams received", run.describe())
    expect_note(run, rule, "the datagram was dropped", count=2)
    rule = "input:drop:nth=2"
    run = dgram(h, rule, "send", 4, 100, "recvmmsg", 4, 200)
    expect_eq(run.step("recvmmsg")["ret"], "3", "recvmmsg's count", run.describe())
    expect_eq(got(run), [0, 2, 3], "the datagrams received", run.describe())
    rule = "recvmmsg:truncate=8"
    run = dgram(h, rule, "send", 2, 100, "recvmmsg", 2, 200)
    expect_eq([(f["len"], f["trunc"]) for f in run.steps("got")], [("8", "1"), ("8", "1")],
              "each message's msg_len and MSG_TRUNC", run.describe())


@case("datagram faults never touch a stream")
def _(h):
    # A TCP connection under io:drop and io:truncate: every byte arrives, intact.
    from inject_harness import Peer  # noqa: F401  (the harness's peer)
    peer = h.peer(send=3000)
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "recv", 3000, 100],
                inject="io:drop;io:truncate=1;io:duplicate;io:reorder=2").expect_rc(0)
    expect_eq(run.step("recv")["intact"], "yes", "the data received on the stream", run.describe())
    expect_eq(run.injected(), [], "records of injected faults", run.describe())


# ---- dig against a DNS responder in the driver ----------------------------------------
def dns_responder(h):
    """A UDP DNS server on 127.0.0.1 answering every A question with
    192.0.2.7; returns (port, list of queries received)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    queries, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                q, addr = s.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            queries.append(q)
            end = 12
            while end < len(q) and q[end] != 0:
                end += q[end] + 1
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 7])
            s.sendto(q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:end + 5] + answer, addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join(5)
        s.close()
    h.closers.append(close)
    return s.getsockname()[1], queries


def dig(h, rule, port, tries=3):
    path = shutil.which("dig")
    if not path:
        raise Skipped("dig is not installed (bind9-dnsutils)")
    return h.run([path, "@127.0.0.1", "-p", port, f"+tries={tries}", "+time=1", "+short", "test.example", "A"],
                 inject=rule, settings={"LEVEL": "info"}, timeout=30)


def dig_answered(h, rule):
    """dig under `rule` against dns_responder: its run (exit status 0) and
    the queries that reached the responder."""
    port, queries = dns_responder(h)
    return dig(h, rule, port).expect_rc(0), queries


@case("dig: its first query dropped, it asks again and gets the answer")
def _(h):
    rule = "output:drop:nth=1"
    run, queries = dig_answered(h, rule)
    lines = run.out.strip().splitlines()
    expect_eq(lines[-1:], ["192.0.2.7"], "dig's answer", run.describe())
    expect(any("timed out" in line for line in lines), "dig did not say its first try timed out", run.describe())
    expect_eq(len(queries), 1, "queries that reached the responder (the first was dropped)", run.describe())
    expect_note(run, rule, "the datagram was dropped")


@case("dig: its first answer dropped, it waits its whole time for it, asks again and gets the answer")
def _(h):
    rule = "input:drop:nth=1"
    start = time.monotonic()
    run, queries = dig_answered(h, rule)
    took = time.monotonic() - start
    lines = run.out.strip().splitlines()
    expect_eq(lines[-1:], ["192.0.2.7"], "dig's answer", run.describe())
    # A lost answer is silence: dig's first try ends by its own timeout
    # (+time=1), not by an error seen at once.
    expect_eq([line.endswith("timed out") for line in lines[:-1]], [True],
              "dig's one complaint, that its first try timed out", run.describe())
    expect(took >= 0.9, f"dig gave up its first try after {took:.3f} s, not its 1 s", run.describe())
    expect_eq(len(queries), 2, "queries that reached the responder", run.describe())
    expect_note(run, rule, "the datagram was dropped")


@case("dig: its query sent twice reaches the responder twice, dig takes one answer")
def _(h):
    rule = "output:duplicate:nth=1"
    run, queries = dig_answered(h, rule)
    expect_eq(run.out.strip(), "192.0.2.7", "dig's answer", run.describe())
    # Both copies are queued at the responder when dig's send returns; its
    # thread may read the second after dig has its answer and has exited.
    deadline = time.monotonic() + 5
    while len(queries) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    expect_eq(len(queries), 2, "queries that reached the responder", run.describe())
    expect_eq(queries[0], queries[1], "the two copies", run.describe())
    expect_note(run, rule, "sent twice")


@case("dig: its query held back 300 ms goes out then, while dig waits, and its first try gets the answer")
def _(h):
    rule = "output:reorder=300ms:nth=1"
    run, queries = dig_answered(h, rule)
    # dig waits 1 s (+time=1) for each try: a query sent only at its next
    # call would have timed out first.
    expect_eq(run.out.strip(), "192.0.2.7", "dig's answer, with no try timed out", run.describe())
    expect_eq(len(queries), 1, "queries that reached the responder", run.describe())
    expect_note(run, rule, "held back 300.000 ms")


@case("dig: every answer dropped, no server could be reached")
def _(h):
    port, queries = dns_responder(h)
    rule = "input:drop:kind=udp"
    run = dig(h, rule, port, tries=2)
    expect_eq(run.rc, 9, "dig's exit status (no reply from the server)", run.describe())
    expect(len(queries) >= 2, f"only {len(queries)} queries reached the responder", run.describe())
    expect(len(notes(run, rule)) >= 2, "records of the dropped answers", run.describe())
