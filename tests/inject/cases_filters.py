"""Each filter, shown both ways in one run: the calls it selects get the
fault, the others do not. (host is in cases_dns.py; nth, every, prob and
times are in cases_counting.py.)"""
import socket

from inject_harness import case, expect, expect_eq, pattern, reserved_port


@case("filter peer")
def _(h):
    one, two, other, six = h.peer(), h.peer(host="127.0.0.2"), h.peer(), h.peer(host="::1")
    rules = f"connect:error=ECONNREFUSED:peer=127.0.0.2; connect:error=EHOSTUNREACH:peer=127.0.0.1:{one.port}; " \
            "connect:error=ENETUNREACH:peer=[::1]"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", other.port, "connect", "127.0.0.2", two.port,
                 "connect", "127.0.0.1", one.port, "connect", "::1", six.port], inject=rules).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")],
              ["OK", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"],
              "connects to 127.0.0.1 (another port), 127.0.0.2, 127.0.0.1 on the rule's port, ::1", run.describe())
    expect_eq([r["peer"] for r in run.injected()],
              [f"127.0.0.2:{two.port}", f"127.0.0.1:{one.port}", f"[::1]:{six.port}"], "injected records' peers",
              run.describe())


@case("filter net")
def _(h):
    peers = {host: h.peer(host=host) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "::1")}
    rules = "connect:error=ECONNREFUSED:net=10.0.0.0/8; connect:error=EHOSTUNREACH:net=127.0.0.2/31; " \
            "connect:error=ENETUNREACH:net=::1/128"
    argv = [h.prog("sockops")]
    for host, peer in peers.items():
        argv += ["connect", host, peer.port]
    run = h.run(argv, inject=rules).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")], ["OK", "EHOSTUNREACH", "EHOSTUNREACH", "OK", "ENETUNREACH"],
              "connects to 127.0.0.1, .2, .3, .4 (127.0.0.2/31 is .2 and .3) and ::1", run.describe())


@case("filter port")
def _(h):
    a, b = h.peer(), h.peer()
    lo, hi = sorted((a.port, b.port))
    third = h.peer()
    rule = f"connect:error=ECONNREFUSED:port={lo}-{hi}"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", a.port, "connect", "127.0.0.1", b.port,
                 "connect", "127.0.0.1", third.port], inject=rule).expect_rc(0)
    wanted = ["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED" if lo <= third.port <= hi else "OK"]
    expect_eq([s["err"] for s in run.steps("connect")], wanted, f"connects to ports {a.port}, {b.port}, "
              f"{third.port} with port={lo}-{hi}", run.describe())


@case("filter lport")
def _(h):
    peer = h.peer(send=100)
    with reserved_port() as lport:
        rules = f"connect:error=ECONNREFUSED:lport={lport}:nth=1; recv:eof:lport={lport}"
        run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "sleep", 100, "recv1", 10,
                     "connect", "127.0.0.1", peer.port, lport, "connect", "127.0.0.1", peer.port, lport,
                     "sleep", 100, "recv1", 10], inject=rules).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")], ["OK", "ECONNREFUSED", "OK"],
              f"connects from an ephemeral port, then twice from port {lport}", run.describe())
    expect_eq([(s["got"], s["end"]) for s in run.steps("recv1")], [("10", "OK"), ("0", "EOF")],
              f"recv on the connection from the ephemeral port, then on the one from {lport}", run.describe())


@case("filter kind")
def _(h):
    tcp4, tcp6 = h.peer(), h.peer(host="::1")
    path = h.path("unix.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    h.closers.append(listener.close)
    rules = "connect:error=ENETUNREACH:kind=udp; connect:error=EACCES:kind=tcp6; connect:error=ENOENT:kind=unix"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", tcp4.port, "udp", "127.0.0.1", tcp4.port,
                 "connect", "::1", tcp6.port, "unix", path], inject=rules).expect_rc(0)
    expect_eq(run.step("connect", 0)["err"], "OK", "tcp4 connect", run.describe())
    expect_eq(run.step("udp")["err"], "ENETUNREACH", "udp connect (kind=udp)", run.describe())
    expect_eq(run.step("connect", 1)["err"], "EACCES", "tcp6 connect (kind=tcp6)", run.describe())
    expect_eq(run.step("unix")["err"], "ENOENT", "unix connect (kind=unix)", run.describe())
    expect_eq([(r["call"], r["kind"]) for r in run.injected()], [("connect", "udp4"), ("connect", "tcp6"),
                                                                 ("connect", "unix-stream")],
              "injected records: call and kind", run.describe())
    sends = h.run([h.prog("sockops"), "connect", "127.0.0.1", tcp4.port, "send1", 5, "connect", "::1", tcp6.port,
                   "send1", 5], inject="send:error=EPIPE:kind=ipv6").expect_rc(0)
    expect_eq([s["err"] for s in sends.steps("send1")], ["OK", "EPIPE"],
              "send on a tcp4 connection, then on a tcp6 one (kind=ipv6)", sends.describe())


@case("filter prog")
def _(h):
    peer = h.peer()
    rules = "connect:error=ECONNREFUSED:prog=curl; connect:error=EHOSTUNREACH:prog=sock*"
    ops = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port], inject=rules).expect_rc(0)
    expect_eq(ops.step("connect")["err"], "EHOSTUNREACH", "sockops (prog=sock* matches)", ops.describe())
    other = h.run([h.prog("nb_connect"), "blocking", "127.0.0.1", peer.port, 1000], inject=rules).expect_rc(0)
    expect_eq(other.step("connect")["err"], "OK", "nb_connect (neither rule's prog)", other.describe())


@case("filter after_bytes on input")
def _(h):
    peer = h.peer(send=10000)
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "recv/waitall", 10000, 1024],
                inject="recv:error=ECONNRESET:after_bytes=4K").expect_rc(0)
    step = run.step("recv")
    expect_eq((step["got"], step["end"], step["intact"]), ("4096", "ECONNRESET", "yes"),
              "received before the reset (1024-byte calls, the rule from 4 KiB on)", run.describe())
    expect_eq(peer.wait(1)[0]["end"], "ECONNRESET", "what the peer met", run.describe())
    expect_eq(run.injected()[0]["bytes_received"], 4096, "the record's bytes received", run.describe())


@case("filter after_bytes on output")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "send1", 2000, "send1", 2000, "send1", 2000],
                inject="send:error=EPIPE:after_bytes=3000").expect_rc(0)
    # Exactly 3000 bytes pass: the send that would cross the boundary is cut
    # at it, and the next one meets the rule.
    expect_eq([(s["sent"], s["err"]) for s in run.steps("send1")], [("2000", "OK"), ("1000", "OK"), ("0", "EPIPE")],
              "sends: 3000 bytes pass, then the rule holds", run.describe())
    got = peer.wait(1)[0]
    expect_eq((got["data"] == pattern(3000), got["end"]), (True, "ECONNRESET"),
              "the peer's 3000 bytes intact, then an RST", run.describe())


@case("filter after")
def _(h):
    peer = h.peer(send=200)
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "sleep", 100, "recv1", 100, "sleep", 1000,
                 "recv1", 100], inject="recv:eof:after=1s").expect_rc(0)
    expect_eq([(s["got"], s["end"]) for s in run.steps("recv1")], [("100", "OK"), ("0", "EOF")],
              "recv at 0.1 s, then at 1.1 s of the connection's age (after=1s)", run.describe())


@case("filter since_start")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "sleep", 1100, "connect", "127.0.0.1",
                 peer.port], inject="connect:error=ECONNREFUSED:since_start=1s").expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")], ["OK", "ECONNREFUSED"],
              "connect at the start, then after 1.1 s (since_start=1s)", run.describe())
    expect(len(run.injected()) == 1, "one injected record", run.describe())
