"""Which calls a rule takes: nth (one, a range, from N on), every, prob and
times; call numbers that count the calls that pass the rule's filters,
whatever other rules do."""
from inject_harness import case, expect, expect_eq


def connects(run, index=0):
    return run.step("connects", index)["results"].split(",")


@case("nth single range and open range")
def _(h):
    a, b, c = h.peer(), h.peer(), h.peer()
    rules = (f"connect:error=ECONNREFUSED:port={a.port}:nth=2; connect:error=ECONNREFUSED:port={b.port}:nth=2..3; "
             f"connect:error=ECONNREFUSED:port={c.port}:nth=4..")
    run = h.run([h.prog("sockops"), "connects", 5, "127.0.0.1", a.port, "connects", 5, "127.0.0.1", b.port,
                 "connects", 5, "127.0.0.1", c.port], inject=rules).expect_rc(0)
    R, K = "ECONNREFUSED", "OK"
    expect_eq(connects(run, 0), [K, R, K, K, K], "nth=2", run.describe())
    expect_eq(connects(run, 1), [K, R, R, K, K], "nth=2..3", run.describe())
    expect_eq(connects(run, 2), [K, K, K, R, R], "nth=4..", run.describe())
    expect_eq(len(run.injected(code=R)), 5, "injected records", run.describe())


@case("every and nth with every")
def _(h):
    one = h.run([h.prog("sockops"), "sockopt", 10], inject="setsockopt:error=ENOBUFS:every=3").expect_rc(0)
    expect_eq(one.step("sockopt")["failed"], "3,6,9", "every=3 over 10 calls", one.describe())
    both = h.run([h.prog("sockops"), "sockopt", 12], inject="setsockopt:error=ENOBUFS:nth=4..10:every=2").expect_rc(0)
    expect_eq(both.step("sockopt")["failed"], "4,6,8,10", "nth=4..10 and every=2 over 12 calls", both.describe())


@case("times")
def _(h):
    run = h.run([h.prog("sockops"), "sockopt", 10], inject="setsockopt:error=ENOBUFS:times=2").expect_rc(0)
    expect_eq(run.step("sockopt")["failed"], "1,2", "times=2", run.describe())
    run = h.run([h.prog("sockops"), "sockopt", 20], inject="setsockopt:error=ENOBUFS:every=3:times=4").expect_rc(0)
    expect_eq(run.step("sockopt")["failed"], "3,6,9,12", "every=3 and times=4", run.describe())
    expect_eq(run.rule_counts(), {"setsockopt:error=ENOBUFS:every=3:times=4": 4}, "the summary", run.describe())


@case("prob")
def _(h):
    calls = 400
    runs = {}
    for spelling in ("0.25", "25%"):
        runs[spelling] = h.run([h.prog("sockops"), "sockopt", calls],
                               inject=f"setsockopt:error=ENOBUFS:prob={spelling}", settings={"SEED": 99}).expect_rc(0)
    failed = runs["0.25"].step("sockopt")["failed"].split(",")
    # A fixed seed: this count is the same on every run; the bounds only say
    # it is a quarter, give or take.
    expect(50 <= len(failed) <= 150, f"prob=0.25 failed {len(failed)} of {calls} calls", runs["0.25"].describe())
    expect_eq(runs["25%"].step("sockopt")["failed"], runs["0.25"].step("sockopt")["failed"],
              "calls failed with prob=25% and with prob=0.25 (the same rule, the same seed)", runs["25%"].describe())
    every = h.run([h.prog("sockops"), "sockopt", 50], inject="setsockopt:error=ENOBUFS:prob=1").expect_rc(0)
    expect_eq(len(every.step("sockopt")["failed"].split(",")), 50, "prob=1 fails every call", every.describe())


@case("call numbers count only the calls that pass the filters")
def _(h):
    a, b = h.peer(), h.peer()
    run = h.run([h.prog("sockops"), "connects", 1, "127.0.0.1", a.port, "connects", 3, "127.0.0.1", b.port,
                 "connects", 2, "127.0.0.1", a.port],
                inject=f"connect:error=ECONNREFUSED:port={a.port}:nth=2").expect_rc(0)
    expect_eq([connects(run, i) for i in range(3)], [["OK"], ["OK", "OK", "OK"], ["ECONNREFUSED", "OK"]],
              f"connects to {a.port}, {b.port} (three), {a.port} (two): the second to {a.port} is its call 2",
              run.describe())


@case("every rule counts its own calls and a spent rule acts no more")
def _(h):
    # Rule 2 counts every call, whatever rule 1 did: every=3 is calls 3 and
    # 6 (rules compose, tools/INJECT.md); rule 1 is spent after call 2.
    run = h.run([h.prog("sockops"), "sockopt", 8],
                inject="setsockopt:error=ENOBUFS:times=2; setsockopt:error=ENOMEM:every=3").expect_rc(0)
    step = run.step("sockopt")
    expect_eq((step["failed"], step["errs"]), ("1,2,3,6", "ENOBUFS,ENOBUFS,ENOMEM,ENOMEM"),
              "failed calls and their errors", run.describe())
    expect_eq([(r["code"], r["rule"]) for r in run.injected()],
              [("ENOBUFS", "setsockopt:error=ENOBUFS:times=2")] * 2 + [("ENOMEM", "setsockopt:error=ENOMEM:every=3")] * 2,
              "injected records: code and rule", run.describe())
