"""SOCKDIAG_SEED replays a run's faults; the library's draws never touch the
program's rand(); eight threads on probabilistic rules keep exact counts."""
import json
import re

from inject_harness import Failure, Run, Skipped, case, expect, expect_eq, pattern, read_text

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
                settings={"LOG": log, "FORMAT": "json", "LEVEL": "info"}).expect_rc(0)
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


TREE_RULE = "setsockopt:error=ENOBUFS:prob=0.5"


def sockdiag_run(h, options, argv, timeout=60):
    """`sockdiag run OPTIONS -- ARGV`, its records in a JSON log of their own."""
    if not h.sockdiag:
        raise Skipped("no sockdiag command given (--sockdiag)")
    log = h.new_path("records")
    full = [h.sockdiag, "run", "--log", log, "--format", "json"] + options + ["--"] + [str(a) for a in argv]
    proc = h.spawn(full, h.env(preload=False))
    rc, out, err = h.finish(proc, full, timeout)
    return Run(full, rc, out, err, log)


def per_process_faults(run):
    """pid -> the injected faults of that process, in order."""
    faults = {}
    for r in run.injected():
        faults.setdefault(r["pid"], []).append((r["call"], r["code"]))
    return faults


@case("one seed for a process tree under sockdiag run")
def _(h):
    # A script that starts three programs, each making the same 30 calls
    # under a prob= rule: one seed is drawn, by sockdiag run, printed once,
    # and every process derives its draws from it.
    script = f"for i in 1 2 3; do {h.prog('sockops')} sockopt 30; done"
    argv = ["sh", "-c", script]
    first = sockdiag_run(h, ["--level", "info", "--inject", TREE_RULE], argv).expect_rc(0)
    lines = seed_lines(first.err)
    expect_eq(len(lines), 1, "lines naming the seed on sockdiag run's stderr", first.describe())
    expect_eq(seed_lines(read_text(first.log)), [], "seed lines in the records' log (sockdiag run says it once)",
              first.describe())
    try:
        notice = json.loads(lines[0])
    except json.JSONDecodeError:
        raise Failure(f"sockdiag run's seed line under --format json is not JSON: {lines[0]!r}")
    expect_eq(notice.get("level"), "info", "the seed line's level", first.describe())
    m = re.search(r"--seed (\d+)", notice.get("message", ""))
    expect(m is not None and int(m.group(1)) == notice.get("seed"), f"the seed line does not say how to replay: "
           f"{lines[0]!r}", first.describe())
    outputs = [line for line in program_lines(first).splitlines() if line.startswith("sockopt")]
    expect_eq(len(outputs), 3, "sockops' lines (one per process)", first.describe())
    expect(re.search(r"failed=\d", outputs[0]) is not None, "the rule failed none of the 30 calls", first.describe())
    # Same rules, same program, same calls: the same draws in each process.
    expect_eq(outputs[1:], outputs[:1] * 2, "what the three processes saw", first.describe())
    faults = per_process_faults(first)
    expect_eq(len(faults), 3, "processes with injected faults", first.describe())
    replay = sockdiag_run(h, ["--level", "info", "--seed", m.group(1), "--inject", TREE_RULE], argv).expect_rc(0)
    expect_eq(seed_lines(replay.err), [], "seed lines when --seed is given", replay.describe())
    expect_eq(program_lines(replay), program_lines(first), f"what the processes saw, replayed with --seed {m.group(1)}",
              replay.describe())
    expect_eq(list(per_process_faults(replay).values()), list(faults.values()),
              "each process's injected faults, replayed", replay.describe())
    quiet = sockdiag_run(h, ["--inject", TREE_RULE], argv).expect_rc(0)
    expect_eq(seed_lines(quiet.err) + seed_lines(read_text(quiet.log)), [],
              "seed lines at the default level (error)", quiet.describe())


@case("no seed line at level error under a bare preload")
def _(h):
    # Each process of a tree started with a bare LD_PRELOAD and no seed
    # draws its own (INJECT.md); none says so below level info.
    script = f"for i in 1 2 3; do {h.prog('sockops')} sockopt 10; done"
    log = h.path("bare.log")
    run = h.run(["sh", "-c", script], inject=TREE_RULE, settings={"LOG": log, "FORMAT": "text"}).expect_rc(0)
    expect_eq(seed_lines(read_text(log)) + seed_lines(run.err), [], "seed lines at level error", run.describe())
