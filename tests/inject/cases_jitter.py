"""Jittered delays (delay=A..B evenly, delay=M~S normal): each delayed call
draws its own time within what the rule allows, says it in its record, and
the same seed draws the same times; curl gets its whole page through them."""
import re

from cases_real_programs import curl, http_server
from inject_harness import case, expect, expect_eq, ms, pattern

# A read's own delay, or a wait's (poll, epoll) for the input held back.
DRAW = re.compile(r"(?:this call drew|input held back) (\d+)\.(\d{3}) ms")


def drawn_ms(run):
    """The delay each injected delay record says its call drew, in order."""
    out = []
    for r in run.injected(code="INJECTED_DELAY"):
        m = DRAW.search(r.get("note", ""))
        expect(m is not None, f"a jittered delay's record does not say what it drew: {r}", run.describe())
        out.append(int(m.group(1)) + int(m.group(2)) / 1000)
    return out


def delayed_reads(h, rule, seed):
    """2000 bytes read 100 at a time under `rule`; the run and its draws."""
    peer = h.peer(send=2000)
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "recv", 2000, 100], inject=rule,
                settings={"LEVEL": "info", "SEED": seed}).expect_rc(0)
    expect_eq(run.step("recv")["intact"], "yes", "received data intact", run.describe())
    draws = drawn_ms(run)
    expect(len(draws) >= 5, f"only {len(draws)} delayed reads", run.describe())
    # Input delayed by a hold cannot arrive before its draw has passed.
    expect(ms(run.step("recv")) >= int(sum(draws)) - len(draws),
           f"the reads took {run.step('recv')['ms']} ms, less than the {sum(draws):.0f} ms drawn", run.describe())
    return run, draws


@case("a delay range draws each call's delay within it")
def _(h):
    run, draws = delayed_reads(h, "recv:delay=5ms..25ms", 11)
    for d in draws:
        expect(5 <= d <= 25, f"a draw of {d} ms outside 5ms..25ms", run.describe())
    expect(len(set(draws)) >= len(draws) // 2, f"the draws hardly vary: {draws}", run.describe())
    again, same = delayed_reads(h, "recv:delay=5ms..25ms", 11)
    expect_eq(same, draws, "the draws of a second run with the same seed", again.describe())
    other, different = delayed_reads(h, "recv:delay=5ms..25ms", 12)
    expect(different != draws, "another seed drew the same delays", other.describe())


@case("a normal delay draws around its mean and never below zero")
def _(h):
    run, draws = delayed_reads(h, "recv:delay=15ms~5ms", 21)
    for d in draws:
        expect(0 <= d <= 45, f"a draw of {d} ms beyond 6 deviations of 15ms~5ms", run.describe())
    mean = sum(draws) / len(draws)
    # 20 draws of deviation 5: their mean is within 4 ms of 15 but for 1 run in 10^4.
    expect(11 <= mean <= 19, f"the draws' mean is {mean:.1f} ms, far from 15 ms: {draws}", run.describe())


@case("each delayed write waits its own normal draw")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "send1", 10, "send1", 10, "send1", 10,
                 "send1", 10, "close"], inject="send:delay=8ms~2ms", settings={"LEVEL": "info", "SEED": 5})
    run.expect_rc(0)
    draws = drawn_ms(run)
    expect_eq(len(draws), 4, "delayed sends", run.describe())
    for d, step in zip(draws, run.steps("send1")):
        expect(ms(step) >= int(d), f"a send took {step['ms']} ms, less than its draw of {d} ms", run.describe())
    expect_eq(peer.wait(1)[0]["data"], pattern(40), "what the peer received", run.describe())


@case("curl gets its page through jittered reads")
def _(h):
    port = http_server(h)
    url = f"http://127.0.0.1:{port}/hello.txt"
    run = h.run([curl(), "-sS", url], inject=f"recv:delay=20ms..60ms:port={port}",
                settings={"LEVEL": "info", "SEED": 3}).expect_rc(0)
    expect_eq(run.out, "hello\n", "what curl printed", run.describe())
    draws = drawn_ms(run)
    expect(len(draws) >= 1, "no read of curl's was delayed", run.describe())
    for d in draws:
        expect(20 <= d <= 60, f"a draw of {d} ms outside 20ms..60ms", run.describe())
