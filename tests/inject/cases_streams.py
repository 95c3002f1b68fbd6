"""Injected faults on established TCP connections: short transfers, delays,
end of stream, resets, errors and bandwidth limits. The peer is the driver
(not under the library), so what it receives is what really went over the
connection."""
from inject_harness import case, expect, expect_eq, fnv1a, ms, pattern


def connect(peer):
    return ["connect", "127.0.0.1", peer.port]


@case("short send")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops")] + connect(peer) + ["send", 3000, "close"], inject="send:short=1",
                settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("send")
    expect_eq((step["sent"], step["calls"], step["max"], step["err"]), ("3000", "3000", "1", "OK"),
              "send: bytes, calls, most bytes in one call", run.describe())
    got = peer.wait(1)[0]
    expect(got["data"] == pattern(3000), f"the peer received {len(got['data'])} bytes that are not the 3000 sent",
           run.describe())
    expect_eq(got["end"], "EOF", "how the connection ended for the peer", run.describe())
    # Every call that asked for more than 1 byte was cut (the last asked for 1).
    notices = run.injected(code="INJECTED_SHORT")
    expect_eq(len(notices), 2999, "short-transfer notices", run.describe())
    expect_eq({(n["call"], n["level"], n["rule"]) for n in notices}, {("send", "info", "send:short=1")},
              "the notices' call, level and rule", run.describe())
    expect_eq(run.rule_counts(), {"send:short=1": 3000}, "the summary's count per rule", run.describe())


@case("short write writev sendmsg")
def _(h):
    peer = h.peer()
    sizes = {"write": 3001, "writev": 5003, "sendmsg": 7005}
    argv = [h.prog("sockops")]
    for via, n in sizes.items():
        argv += connect(peer) + [f"send/{via}", n]
    argv.append("close")
    run = h.run(argv, inject="output:short=7").expect_rc(0)
    for i, (via, n) in enumerate(sizes.items()):
        step = run.step("send", i)
        expect_eq((step["sent"], step["max"], step["err"]), (str(n), "7", "OK"), f"{via}: bytes, most per call",
                  run.describe())
        expect(int(step["calls"]) >= n // 7, f"{via}: {step['calls']} calls moved {n} bytes 7 at most",
               run.describe())
    received = sorted(r["data"] for r in peer.wait(3))
    expect(received == sorted(pattern(n) for n in sizes.values()),
           f"the peer received {[len(d) for d in received]} bytes, not intact copies of {list(sizes.values())}",
           run.describe())


@case("short recv read readv recvmsg")
def _(h):
    peer = h.peer(send=5000)
    argv = [h.prog("sockops")]
    for via in ("recv", "read", "readv", "recvmsg"):
        argv += connect(peer) + ["sleep", 100, f"recv/{via}", 5000, 4096]
    run = h.run(argv, inject="input:short=7").expect_rc(0)
    for i, via in enumerate(("recv", "read", "readv", "recvmsg")):
        step = run.step("recv", i)
        expect_eq((step["got"], step["max"], step["end"], step["intact"], step["sum"]),
                  ("5000", "7", "OK", "yes", fnv1a(pattern(5000))),
                  f"{via}: bytes, most per call, end, data intact, checksum", run.describe())


@case("delay before recv and send")
def _(h):
    peer = h.peer(send=100)
    run = h.run([h.prog("sockops")] + connect(peer) + ["sleep", 100, "recv1", 100, "send1", 10],
                inject="recv:delay=400ms; send:delay=300ms", settings={"LEVEL": "info"}).expect_rc(0)
    recv, send = run.step("recv1"), run.step("send1")
    expect_eq((recv["got"], recv["intact"]), ("100", "yes"), "the delayed recv", run.describe())
    expect(ms(recv) >= 400, f"recv took {recv['ms']} ms with a 400 ms delay (its data was already there)",
           run.describe())
    expect_eq(send["sent"], "10", "the delayed send", run.describe())
    expect(ms(send) >= 300, f"send took {send['ms']} ms with a 300 ms delay", run.describe())
    notices = run.injected(code="INJECTED_DELAY")
    expect_eq(sorted((n["call"], n["rule"]) for n in notices),
              [("recv", "recv:delay=400ms"), ("send", "send:delay=300ms")], "delay notices", run.describe())
    expect_eq(peer.wait(1)[0]["data"], pattern(10), "what the peer received", run.describe())


@case("eof keeps returning 0")
def _(h):
    peer = h.peer(send=300)
    run = h.run([h.prog("sockops")] + connect(peer) +
                ["sleep", 100, "recv1", 10, "recv1", 10, "recv1", 10, "recv/read", 300, 100, "send", 5, "close"],
                inject="input:eof:nth=2", settings={"LEVEL": "info"}).expect_rc(0)
    results = [(s["got"], s["end"]) for s in run.steps("recv1")]
    expect_eq(results, [("10", "OK"), ("0", "EOF"), ("0", "EOF")],
              "recv results: data, then the injected end of stream, then end of stream again", run.describe())
    expect_eq((run.step("recv")["got"], run.step("recv")["end"]), ("0", "EOF"),
              "read after the injected end of stream (290 bytes still waiting)", run.describe())
    expect_eq(run.step("send")["err"], "OK", "send after an end of stream (only the peer's side ended)",
              run.describe())
    # (The peer then meets an RST, not a FIN: the program closed with
    # unread data, which Linux answers with a reset.)
    expect_eq(peer.wait(1)[0]["data"], pattern(5), "what the peer received", run.describe())
    recs = run.injected(code="EOF")
    expect_eq([(r["call"], r["rule"]) for r in recs], [("recv", "input:eof:nth=2")], "injected EOF records",
              run.describe())


@case("reset aborts the connection")
def _(h):
    for host in ("127.0.0.1", "::1"):
        peer = h.peer(host=host, send=1000)
        run = h.run([h.prog("sockops"), "connect", host, peer.port,
                     "sleep", 100, "recv1", 100, "recv1", 100, "recv1", 100, "send1", 10],
                    inject="recv:reset:nth=2").expect_rc(0)
        results = [(s["got"], s["end"]) for s in run.steps("recv1")]
        expect_eq(results, [("100", "OK"), ("0", "ECONNRESET"), ("0", "EOF")],
                  f"{host}: recv: data, the injected reset, then end of stream as on a reset connection",
                  run.describe())
        expect_eq(run.step("send1")["err"], "EPIPE", f"{host}: send on the reset connection", run.describe())
        expect_eq(peer.wait(1)[0]["end"], "ECONNRESET", f"{host}: what the peer's recv met (an RST)",
                  run.describe())
        recs = run.injected(call="recv", code="ECONNRESET")
        expect_eq([r["rule"] for r in recs], ["recv:reset:nth=2"], f"{host}: injected reset records",
                  run.describe())


@case("errors that end the connection reset it")
def _(h):
    for rule, steps, failing in (
            ("recv:error=ECONNRESET:nth=1", ["recv1", 50], "recv1"),
            ("recv:error=ETIMEDOUT:nth=1", ["recv1", 50], "recv1"),
            ("send:error=EPIPE:nth=1", ["send1", 50], "send1"),
            ("send:error=ECONNRESET:nth=1", ["send1", 50], "send1")):
        peer = h.peer(send=1000)
        run = h.run([h.prog("sockops")] + connect(peer) + ["sleep", 100] + steps + ["recv1", 50, "send1", 10],
                    inject=rule).expect_rc(0)
        first = run.step(failing, 0)
        code = rule.split("=")[1].split(":")[0]
        expect_eq(first.get("end", first.get("err")), code, f"{rule}: the call the rule fails", run.describe())
        later_recv = run.steps("recv1")[-1]
        expect_eq((later_recv["got"], later_recv["end"]), ("0", "EOF"), f"{rule}: a later recv", run.describe())
        expect_eq(run.steps("send1")[-1]["err"], "EPIPE", f"{rule}: a later send", run.describe())
        expect_eq(peer.wait(1)[0]["end"], "ECONNRESET", f"{rule}: what the peer met", run.describe())
        expect_eq(run.rule_counts(), {rule: 1}, f"{rule}: faults the rule injected", run.describe())
        # What follows on that connection (the EOF, the EPIPE) is the fault's
        # doing, not the peer's: marked with the rule, counted as injected.
        later = [r for r in run.records if r.get("call") in ("recv", "send")]
        expect(len(later) >= 2 and all(r.get("injected") is True and r.get("rule") == rule for r in later),
               f"{rule}: every record of the connection marked with the rule", run.describe())
        counts = [c for c in run.summary if c.get("summary") == "count" and c.get("call") in ("recv", "send")]
        expect(counts and all(c["injected"] == c["count"] for c in counts),
               f"{rule}: the summary counts them as injected", run.describe())


@case("errors that do not end the connection leave it usable")
def _(h):
    peer = h.peer(send=100)
    run = h.run([h.prog("sockops")] + connect(peer) +
                ["sleep", 100, "recv1", 100, "recv1", 100, "send1", 10, "send1", 10, "close"],
                inject="recv:error=EINTR:nth=1; send:error=ENOBUFS:nth=1").expect_rc(0)
    recvs = [(s["got"], s["end"]) for s in run.steps("recv1")]
    expect_eq(recvs, [("0", "EINTR"), ("100", "OK")], "recv: the injected EINTR, then the data", run.describe())
    sends = [s["err"] for s in run.steps("send1")]
    expect_eq(sends, ["ENOBUFS", "OK"], "send: the injected ENOBUFS, then a send", run.describe())
    got = peer.wait(1)[0]
    expect_eq((got["data"], got["end"]), (pattern(10), "EOF"), "what the peer received", run.describe())


@case("close reset sends an RST")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops")] + connect(peer) + ["send", 20, "close"], inject="close:reset",
                settings={"LEVEL": "info"}).expect_rc(0)
    expect_eq(run.step("close")["err"], "OK", "close", run.describe())
    got = peer.wait(1)[0]
    expect_eq((got["data"], got["end"]), (pattern(20), "ECONNRESET"),
              "what the peer received, and how the connection ended for it", run.describe())
    notices = run.injected(code="INJECTED_RESET")
    expect_eq([(n["call"], n["level"], n["rule"]) for n in notices], [("close", "info", "close:reset")],
              "reset notices", run.describe())


@case("bandwidth limit on sending")
def _(h):
    peer = h.peer()
    rate, n = 100_000, 150_000
    run = h.run([h.prog("sockops")] + connect(peer) + ["send", n, "close"],
                inject="output:bandwidth=100KB/s").expect_rc(0)
    step = run.step("send")
    expect_eq((step["sent"], step["err"]), (str(n), "OK"), "send", run.describe())
    # The last slice (a tenth of a second's worth) may go at once, and the
    # connection's clock starts at connect, a little before the send.
    least = (n - 2 * (rate // 10)) * 1000 // rate
    expect(ms(step) >= least, f"{n} bytes at {rate} B/s went in {step['ms']} ms, less than {least} ms",
           run.describe())
    expect(int(step["max"]) <= rate // 10, f"one call moved {step['max']} bytes, more than a tenth of a second's "
                                           "worth", run.describe())
    expect(peer.wait(1)[0]["data"] == pattern(n), "the peer did not receive the bytes intact", run.describe())


@case("bandwidth limit on receiving")
def _(h):
    rate, n = 100_000, 150_000
    peer = h.peer(send=n)
    run = h.run([h.prog("sockops")] + connect(peer) + ["recv", n, 65536],
                inject="input:bandwidth=100KB/s").expect_rc(0)
    step = run.step("recv")
    expect_eq((step["got"], step["intact"], step["sum"]), (str(n), "yes", fnv1a(pattern(n))),
              "bytes received, intact, checksum", run.describe())
    least = (n - 2 * (rate // 10)) * 1000 // rate
    expect(ms(step) >= least, f"{n} bytes at {rate} B/s came in {step['ms']} ms, less than {least} ms",
           run.describe())
    expect(int(step["max"]) <= rate // 10, f"one call moved {step['max']} bytes", run.describe())
