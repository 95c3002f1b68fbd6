"""SOCKDIAG_SEED replays a run's faults; the library's draws never touch the
program's rand(); eight threads on probabilistic rules keep exact counts."""
import json
import re

from inject_harness import Failure, case, expect, expect_eq, pattern, read_text

RULES = "setsockopt:error=ENOBUFS:prob=0.3; recv:short=5:prob=0.5; send:short=3:prob=0.2"


def multi_call_run(h, settings):
    """A run of a few hundred calls under three probabilistic rules; returns
    the run and the sequence of its injected faults (call, code, note)."""
    peer = h.peer(send=2000)
    merged = {"LEVEL": "info"}
    merged.update(settings)
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "sockopt", 150, "sleep", 100,
                 "recv", 2000, 64, "send", 600], inject=RULES, settings=merged).expect_rc(0)
    expect_eq(run.step("recv")["intact"], "yes", "received data intact", run.describe())
    expect_eq(peer.wait(1)[0]["data"], pattern(600), "what the peer received", run.describe())
    faults = [(r["call"], r["code"], r.get("note", "")) for r in run.injected()]
    return run, faults


def program_lines(run):
    return re.sub(r" ms=\d+", "", run.out)


@case("same seed same faults different seed different faults")
def _(h):
    first, faults1 = multi_call_run(h, {"SEED": 4242})
    expect(len(faults1) > 20, f"only {len(faults1)} injected faults in the run", first.describe())
    second, faults2 = multi_call_run(h, {"SEED": 4242})
    expect_eq(faults2, faults1, "the sequence of injected faults of two runs with SOCKDIAG_SEED=4242",
              second.describe())
    expect_eq(program_lines(second), program_lines(first), "what the program saw in the two runs", second.describe())
    other, faults3 = multi_call_run(h, {"SEED": 4243})
    expect(faults3 != faults1, "SOCKDIAG_SEED=4243 gave the same faults as 4242", other.describe())


def seed_lines(text):
    return [line for line in text.splitlines() if "seed" in line]


@case("seed drawn without SOCKDIAG_SEED is printed and replays the run")
def _(h):
    text_log = h.path("seed.log")
    first, _ = multi_call_run(h, {"LOG": text_log, "FORMAT": "text"})
    lines = seed_lines(read_text(text_log))
    expect_eq(len(lines), 1, "lines of the log naming the seed drawn (INJECT.md: the seed is printed so that "
              "the run can be replayed)", first.describe() + "\nlog:\n" + read_text(text_log))
    m = re.search(r"SOCKDIAG_SEED=(\d+)", lines[0])
    expect(m is not None, f"the seed line does not say how to replay: {lines[0]!r}")
    replay, _ = multi_call_run(h, {"SEED": m.group(1)})
    expect_eq(program_lines(replay), program_lines(first),
              f"what the program saw, replayed with the seed printed ({m.group(1)})", replay.describe())


@case("seed notice in a JSON log is JSON")
def _(h):
    log = h.path("seed.json")
    run = h.run([h.prog("sockops"), "sockopt", 20], inject="setsockopt:error=ENOBUFS:prob=0.5",
                settings={"LOG": log, "FORMAT": "json"}).expect_rc(0)
    lines = seed_lines(read_text(log))
    expect_eq(len(lines), 1, "lines of the JSON log naming the seed drawn", run.describe())
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        raise Failure(f"the seed notice in a JSON log (SOCKDIAG_FORMAT=json) is not JSON: {lines[0]!r}")


@case("the program's rand is untouched by the library")
def _(h):
    argv = [h.prog("rand_inject"), 40]
    rules = "setsockopt:error=ENOBUFS:prob=0.5; getsockopt:error=ENOPROTOOPT:prob=0.3"
    plain = h.run_plain(argv).expect_rc(0)
    runs = [
        ("the library and no rules", False, h.run(argv)),
        ("prob rules, seed from the clock", True, h.run(argv, inject=rules)),
        ("prob rules, SOCKDIAG_SEED=1", True, h.run(argv, inject=rules, settings={"SEED": 1})),
    ]
    for what, injecting, run in runs:
        run.expect_rc(0)
        expect_eq(run.out, plain.out, f"rand()/random() values with {what}, compared with no library",
                  run.describe())
        if injecting:
            failed = int(re.search(r"failed=(\d+)", run.err).group(1))
            expect(failed > 0, f"{what}: the rules failed no call", run.describe())


@case("eight threads on probabilistic rules keep exact counts")
def _(h):
    set_rule = "setsockopt:error=ENOBUFS:prob=0.5:times=1500"
    get_rule = "getsockopt:error=ENOPROTOOPT:prob=0.25"
    observed = []
    for _ in range(2):
        # LEVEL=debug: an injected ENOPROTOOPT on getsockopt is a debug record.
        run = h.run([h.prog("threads_inject"), 8, 1000], inject=f"{set_rule}; {get_rule}",
                    settings={"SEED": 7, "LEVEL": "debug"}, timeout=60).expect_rc(0)
        m = re.match(r"setsockopt_failed=(\d+) getsockopt_failed=(\d+) other_errors=(\d+)", run.out)
        expect(m is not None, "the program's totals", run.describe())
        set_failed, get_failed, other = map(int, m.groups())
        expect_eq(other, 0, "failures that no rule injected", run.describe())
        expect_eq(set_failed, 1500, f"setsockopt failures seen by the threads ({set_rule})", run.describe())
        counts = run.rule_counts()
        expect_eq(counts, {set_rule: set_failed, get_rule: get_failed},
                  "the summary's count per rule, against what the threads saw", run.describe())
        expect_eq((len(run.injected(rule=set_rule)), len(run.injected(rule=get_rule))), (set_failed, get_failed),
                  "injected records per rule, against what the threads saw", run.describe())
        observed.append(get_failed)
    # prob draws depend only on the call number: the same count, whatever
    # the interleaving of the threads.
    expect_eq(observed[1], observed[0], "getsockopt failures in two runs with SOCKDIAG_SEED=7")
