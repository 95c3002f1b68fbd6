"""What a program meets after a fault (tools/INJECT.md, "Aftermath"): the
aftermath program makes the fault's call, then the calls a program makes
next on that socket, once with the real fault (without the library) and
once with the fault injected; the two outputs must be the same. Every
record that follows from the injected fault on that socket carries the
rule and is counted as injected; a new socket given the same number is
clean."""
from inject_harness import case, expect, expect_eq

SCENARIOS = {
    # scenario: (rule, the failure records (call, code, marked with the rule), in order)
    "refused-again": ("connect:error=ECONNREFUSED:times=1", [("connect", "ECONNREFUSED", True)]),
    "refused-soerror": ("connect:error=ECONNREFUSED:times=1",
                        [("connect", "ECONNREFUSED", True), ("connect", "ECONNABORTED", True)]),
    "refused-blocking": ("connect:error=ECONNREFUSED:times=1",
                         [("connect", "ECONNREFUSED", True), ("send", "EPIPE", True)]),
    # The kernel times the attempt out under the injected wait; the new
    # attempt is the program's own, under its own TCP_USER_TIMEOUT.
    "timeout-nb": ("connect:timeout=1s:times=1", [("connect", "ETIMEDOUT", True), ("connect", "ECONNABORTED", True)]),
    # The interrupted connect goes on to the real peer: what it gives is real.
    "eintr-poll": ("connect:error=EINTR:times=1", [("connect", "EINTR", True)]),
    "eintr-again": ("connect:error=EINTR:times=1", [("connect", "EINTR", True), ("connect", "EISCONN", False)]),
    "reset": ("recv:reset:times=1", [("recv", "ECONNRESET", True), ("send", "EPIPE", True)]),
    "eof": ("recv:eof:times=1", [("recv", "EOF", True)]),
    "shutdown-enotconn": ("shutdown:error=ENOTCONN:times=1",
                          [("shutdown", "ENOTCONN", True), ("recv", "ECONNRESET", True), ("send", "EPIPE", True)]),
    "recv-eagain": ("recv:error=EAGAIN:times=1", [("recv", "EAGAIN", True)]),
    "accept-emfile": ("accept:error=EMFILE:times=1", [("accept", "EMFILE", True)]),
}


def run_both(h, scenario, rule, real_code=None, code=None):
    """The real fault's output (its error `real_code` said as `code`: the
    kernel leaves a socket in the same state after an ICMP error as after a
    refusal, tcp_done), and the run with the fault injected."""
    real = h.run_plain([h.prog("aftermath"), scenario, "real"]).expect_rc(0)
    wanted = real.out.replace(real_code, code) if real_code else real.out
    run = h.run([h.prog("aftermath"), scenario, "inject"], inject=rule, settings={"LEVEL": "info"}).expect_rc(0)
    expect_eq(run.out, wanted, f"{scenario}: what the program meets after the injected fault, compared with "
              "the real one", run.describe() + "\n--- the real fault:\n" + real.out)
    return run


def failures(run, rule):
    """(call, code, marked with `rule`) of the run's failure records, in order."""
    return [(r["call"], r["code"], r.get("injected") is True and r.get("rule") == rule) for r in run.records
            if r.get("code") not in (None, "", "OK")]


def aftermath_case(scenario, rule, wanted):
    @case(f"aftermath {scenario}")
    def _(h):
        run = run_both(h, scenario, rule)
        expect_eq(failures(run, rule), wanted, f"{scenario}: the failure records (call, code, marked with the rule)",
                  run.describe())
        # The address the program named, never the one the library connected to.
        peers = {r.get("peer") for r in run.records if r.get("call") == "connect"}
        expect(len(peers) <= 1, f"{scenario}: connect records name different peers: {peers}", run.describe())
        counts = {(c["call"], c["code"]): (c["count"], c["injected"]) for c in run.summary
                  if c.get("summary") == "count"}
        for call, code, marked in wanted:
            got = counts.get((call, code))
            expect(got is not None and (got[1] == got[0] if marked else got[1] == 0),
                   f"{scenario}: the summary counts {call} {code} as {got} (count, injected)", run.describe())


for _scenario, (_rule, _marked) in SCENARIOS.items():
    aftermath_case(_scenario, _rule, _marked)


def failed_nb_case(scenario, code):
    @case(f"aftermath {scenario} {code}")
    def _(h):
        rule = f"connect:error={code}:times=1"
        run = run_both(h, scenario, rule, "ECONNREFUSED", code)
        wanted = {"failed-nb-soerror": [("connect", code, True), ("send", "EPIPE", True)],
                  "failed-nb-recv": [("recv", code, True), ("send", "EPIPE", True)],
                  "refused-again": [("connect", code, True)]}[scenario]
        # The end of stream after a failure is recorded at info or debug
        # depending on the error (explain.cpp); it too must be marked.
        got = [f for f in failures(run, rule) if f != ("recv", "EOF", True)]
        expect_eq(got, wanted,
                  f"{scenario}: the failure records (call, code, marked with the rule)", run.describe())


for _scenario in ("failed-nb-soerror", "failed-nb-recv"):
    for _code in ("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"):
        failed_nb_case(_scenario, _code)
failed_nb_case("refused-again", "EHOSTUNREACH")


def reuse_case(how):
    @case(f"aftermath ends when the number is reused by {how}")
    def _(h):
        rule = "recv:reset:times=1"
        run = run_both(h, f"reuse-{how}", rule)
        expect("same number: yes" in run.out.splitlines(), "the new socket got the same number", run.describe())
        expect_eq(failures(run, rule),
                  [("recv", "ECONNRESET", True), ("connect", "ECONNREFUSED", False), ("send", "EPIPE", False)],
                  "the reset is injected; the new socket's real refusal and EPIPE are not", run.describe())


for _how in ("close", "dup2", "close_range"):
    reuse_case(_how)


@case("aftermath injected connect EINTR finished by the retry policy")
def _(h):
    """With SOCKDIAG_RETRY=eintr an injected EINTR is one attempt, as a real
    one is: the connect it left going on is finished, and the program's
    connect returns 0 only once it is really connected."""
    rule = "connect:error=EINTR:times=1"
    run = h.run([h.prog("aftermath"), "eintr-again", "inject"], inject=rule,
                settings={"LEVEL": "info", "RETRY": "eintr"}).expect_rc(0)
    expect_eq([line for line in run.out.splitlines()],
              ["connect ret=0 err=OK", "connect again ret=-1 err=EISCONN", "connect again ret=-1 err=EISCONN",
               "getpeername ret=0 err=OK", "send ret=1 err=OK"],
              "the program's calls (an uninterrupted connect's aftermath)", run.describe())
    expect_eq([(r["call"], r["code"], r.get("injected") is True, bool(r.get("retrying"))) for r in run.records],
              [("connect", "EINTR", True, False), ("connect", "EINTR", False, True),
               ("connect", "EISCONN", False, False), ("connect", "EISCONN", False, False)],
              "the injected EINTR, the retry's notice, the program's own EISCONNs", run.describe())
