"""Rules that compose (tools/INJECT.md, "Rules that compose"): on one call
every matching rule acts, the waits first (delays add up, then a bandwidth
wait), then the limits on size (the smallest wins), then at most one ending
(the first in rule order; a later one counts the call as seen, not as
injected). The peers are the driver or servers not under the library, so
what they receive is what really went over the connection."""

from cases_real_programs import curl, http_server, upload_through
from inject_harness import case, expect, expect_eq, fnv1a, ms, pattern


@case("a delay then an error on connect")
def _(h):
    peer = h.peer()
    delay, refuse = "connect:delay=400ms", f"connect:error=ECONNREFUSED:port={peer.port}"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port], inject=f"{delay}; {refuse}",
                settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("connect")
    expect_eq(step["err"], "ECONNREFUSED", "the connect's outcome", run.describe())
    expect(ms(step) >= 400, f"the refusal came after {step['ms']} ms, before the 400 ms delay", run.describe())
    expect_eq([(r["call"], r["code"], r["rule"]) for r in run.injected()],
              [("connect", "INJECTED_DELAY", delay), ("connect", "ECONNREFUSED", refuse)],
              "one record per rule that acted, in the order they acted", run.describe())
    expect_eq(run.rule_counts(), {delay: 1, refuse: 1}, "the summary's count per rule", run.describe())


@case("delay bandwidth and short act together on output")
def _(h):
    peer = h.peer()
    n, rate = 3000, 20_000
    delay, bandwidth, short = "output:delay=5ms", "output:bandwidth=20KB/s", "output:short=100"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "send", n, "close"],
                inject=f"{delay}; {bandwidth}; {short}", settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("send")
    calls = n // 100
    expect_eq((step["sent"], step["calls"], step["max"], step["err"]), (str(n), str(calls), "100", "OK"),
              "send: bytes, calls, most per call (short=100 is below the bandwidth's slice of 2000)", run.describe())
    expect(peer.wait(1)[0]["data"] == pattern(n), "the peer did not receive the bytes intact", run.describe())
    # Each call waits its 5 ms delay, and the whole goes no faster than the
    # bandwidth allows (its first slice may go at once).
    least = max(calls * 5, (n - rate // 10) * 1000 // rate)
    expect(ms(step) >= least, f"{n} bytes went in {step['ms']} ms, less than {least} ms", run.describe())
    expect_eq(len(run.injected(code="INJECTED_DELAY", rule=delay)), calls, "delay notices, one a call",
              run.describe())
    # Every call but the last asked for more than 100 bytes.
    expect_eq(len(run.injected(code="INJECTED_SHORT", rule=short)), calls - 1, "short notices", run.describe())
    expect_eq(run.rule_counts(), {delay: calls, bandwidth: calls, short: calls},
              "the summary: each rule acted on every call", run.describe())


@case("the smallest limit wins")
def _(h):
    peer = h.peer()
    n = 3000
    short, bandwidth = "output:short=5000", "output:bandwidth=10000"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "send", n, "close"],
                inject=f"{short}; {bandwidth}", settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("send")
    expect_eq((step["sent"], step["max"], step["err"]), (str(n), "1000", "OK"),
              "send: bytes, most per call (the bandwidth's slice of 1000 is below short=5000)", run.describe())
    expect(peer.wait(1)[0]["data"] == pattern(n), "the peer did not receive the bytes intact", run.describe())
    expect_eq(run.injected(code="INJECTED_SHORT"), [], "short notices (short never set the length)", run.describe())


@case("delayed input cut short arrives intact")
def _(h):
    n = 50
    peer = h.peer(send=n)
    delay, short = "input:delay=100ms", "input:short=10"
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "sleep", 100, "recv", n, 4096],
                inject=f"{delay}; {short}", settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("recv")
    expect_eq((step["got"], step["calls"], step["max"], step["intact"], step["sum"]),
              (str(n), "5", "10", "yes", fnv1a(pattern(n))), "recv: bytes, calls, most per call, intact, checksum",
              run.describe())
    expect(ms(step) >= 500, f"5 reads delayed 100 ms each took {step['ms']} ms", run.describe())
    expect_eq(len(run.injected(code="INJECTED_DELAY", rule=delay)), 5, "delay notices", run.describe())
    # Every read but the last asked for more than 10 bytes.
    expect_eq(len(run.injected(code="INJECTED_SHORT", rule=short)), 4, "short notices", run.describe())


@case("one ending per call and the counters in the summary")
def _(h):
    # Both rules fail calls 6 and 12: the first in rule order acts; the
    # second counts them as seen, not injected, and its every=3 still means
    # its own calls 3, 6, 9, 12.
    first, second = "setsockopt:error=ENOBUFS:every=2", "setsockopt:error=ENOMEM:every=3"
    run = h.run([h.prog("sockops"), "sockopt", 12], inject=f"{first}; {second}").expect_rc(0)
    step = run.step("sockopt")
    expect_eq((step["failed"], step["errs"]),
              ("2,3,4,6,8,9,10,12", "ENOBUFS,ENOMEM,ENOBUFS,ENOBUFS,ENOBUFS,ENOMEM,ENOBUFS,ENOBUFS"),
              "failed calls and their errors", run.describe())
    expect_eq([r["rule"] for r in run.injected()],
              [first, second, first, first, first, second, first, first], "the injected records' rules",
              run.describe())
    expect_eq(run.rule_counts(), {first: 6, second: 2}, "the summary's count per rule", run.describe())


@case("curl upload through delay bandwidth and short arrives intact")
def _(h):
    rules = ["output:delay=1ms", "output:bandwidth=400KB/s", "output:short=1KB"]
    run = upload_through(h, "; ".join(rules), settings={"LEVEL": "info"})
    counts = run.rule_counts()
    expect(set(counts) == set(rules) and len(set(counts.values())) == 1 and counts[rules[0]] > 100,
           f"each rule acted on every one of curl's sends (more than 100): {counts}", run.describe())
    cut = run.injected(code="INJECTED_SHORT")
    expect(cut and all(r["rule"] == rules[2] and r["call"] in ("send", "sendto", "write", "writev", "sendmsg")
                       for r in cut), "short notices name output:short=1KB on an output call", run.describe())


@case("curl meets a refusal after a delay")
def _(h):
    port = http_server(h)
    delay, refuse = "connect:delay=300ms", f"connect:error=ECONNREFUSED:port={port}"
    run = h.run([curl(), "-sS", f"http://127.0.0.1:{port}/hello.txt"], inject=f"{delay}; {refuse}",
                settings={"LEVEL": "info"})
    expect_eq(run.rc, 7, "curl's exit status (7: failed to connect)", run.describe())
    expect_eq([(r["code"], r["rule"]) for r in run.injected(call="connect")],
              [("INJECTED_DELAY", delay), ("ECONNREFUSED", refuse)], "the connect's records", run.describe())
    expect_eq(run.rule_counts(), {delay: 1, refuse: 1}, "the summary's count per rule", run.describe())
