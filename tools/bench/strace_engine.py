#!/usr/bin/env python3
"""What the strace engine (`sockdiag run --engine strace`) costs, in three
measurements against the goals of issue 18:

1. The reader: `sockdiag run --engine strace -- W` against the same strace
   command line writing into a FIFO that `cat >/dev/null` drains, wall time
   of the whole run (until the tracer's output is read to its end), on a
   TCP ping-pong and on refused connects (one record each). Goal: sockdiag
   adds at most 10%.
2. A hot loop that makes no traced call (computing, getpid(2), the vDSO's
   clock_gettime), timed by the program itself, traced against untraced:
   strace's seccomp-bpf filter lets those calls through in the kernel. Goal:
   within 5%.
3. Start-up: `sockdiag run --engine strace -- bench_static_true` against
   bench_static_true alone. Goal: within 20 ms.

Every workload is static, as the programs the engine is for. Runs are
interleaved in rounds (the order shuffled in each), and each goal is judged
on the median over rounds of the ratio (or difference) within a round, with
a 95% interval. See README.md. Progress goes to stderr, the report
(Markdown) to stdout."""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be
from bench import RESULT, fmt_ns, machine, median_with_ci

READER_GOAL = 1.10
LOOP_GOAL = 1.05
STARTUP_GOAL_MS = 20.0

# The engine's strace command line, fixed (tools/sockdiag/strace_engine.cpp:
# the reader depends on it); SET is its kStraceTraceSet.
STRACE_SET = ("%network,read,write,readv,writev,close,?close_range,dup,dup2,dup3,?poll,ppoll,?select,"
              "pselect6,?epoll_wait,epoll_pwait,?epoll_pwait2,epoll_ctl,clone,?clone3,?fork,?vfork,"
              "execve,execveat")


def strace_argv(strace, out, cmd):
    return [strace, "-DD", "-f", "-q", "--seccomp-bpf", "-y", "-v", "-s", "0", "-ttt", "-T", "-o", out,
            "-e", f"trace={STRACE_SET}", "--"] + cmd


# (workload, ops per run): some 0.5 s each under strace on a machine where a
# traced round trip takes 400 µs.
READER_WORKLOADS = (("tcp-send", 1500), ("refused", 1500))
# (mode, ops per run): some 100 ms each untraced.
LOOP_WORKLOADS = (("compute", 50_000_000), ("getpid", 100_000), ("clock", 3_000_000))


def progress(text):
    print(text, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, paths, timeout):
        self.paths, self.timeout = paths, timeout
        self.env = be.run_env(be.Config("strace-engine", ""))
        self.scratch = tempfile.mkdtemp(prefix="sockdiag-strace-bench-")

    def close(self):
        shutil.rmtree(self.scratch, ignore_errors=True)

    def check(self, what, procs, errs):
        """Fails naming `what` unless every process of `procs` exited 0."""
        for proc, err in zip(procs, errs):
            if proc.returncode != 0:
                err.seek(0)
                be.fail(f"{what}: `{' '.join(map(str, proc.args))}` exited with status {proc.returncode}; "
                        f"its stderr ends:\n{be.tail(err)}")

    def wait_all(self, what, procs):
        deadline = time.monotonic() + self.timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for p in procs:
                    p.kill()
                be.fail(f"{what} ran over {self.timeout} s; stopped")

    def timed(self, what, argvs, stdout_of=0):
        """Runs the commands `argvs` at once, waits for all; returns (wall
        ns from the first start to the last end, the stdout of
        argvs[stdout_of])."""
        errs = [tempfile.TemporaryFile() for _ in argvs]
        out = tempfile.TemporaryFile()
        try:
            t0 = time.perf_counter_ns()
            procs = [subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=out if i == stdout_of else subprocess.DEVNULL, stderr=err)
                     for i, (argv, err) in enumerate(zip(argvs, errs))]
            self.wait_all(what, procs)
            elapsed = time.perf_counter_ns() - t0
            self.check(what, procs, errs)
            out.seek(0)
            return elapsed, out.read().decode(errors="replace")
        finally:
            out.close()
            for err in errs:
                err.close()

    def sockdiag(self, cmd):
        # Records (one per refused connect) go where they cost least; a run
        # that writes none writes them nowhere either.
        return [self.paths["sockdiag"], "run", "--engine", "strace", "--log", "/dev/null", "--"] + cmd

    def reader_run(self, config, cmd):
        """(wall ns, stdout) of one run of `cmd` under `config`: none
        (untraced), strace to cat (the baseline), sockdiag."""
        what = f"{' '.join(map(os.path.basename, cmd))} under {config}"
        if config == "none":
            return self.timed(what, [cmd])
        if config == "sockdiag":
            return self.timed(what, [self.sockdiag(cmd)])
        fifo = os.path.join(self.scratch, "trace.fifo")
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        # cat first: strace's open of the FIFO waits for its reader.
        return self.timed(what, [["cat", fifo], strace_argv(self.paths["strace"], fifo, cmd)], stdout_of=1)


def ns_per_op(what, out):
    found = RESULT.match(out.strip())
    if not found:
        be.fail(f"{what} printed '{out.strip()[:300]}', expected 'MODE: N ops, X ns/op'")
    return float(found.group(2))


def verdict(met):
    return "met" if met else "NOT met"


def ratio_text(ratios):
    m, low, high = median_with_ci(ratios)
    return f"x{m:.3f} [{low:.3f}, {high:.3f}]"


def measure_reader(bench, rounds, scale, order):
    configs = ("none", "strace to cat", "sockdiag")
    times = {(w, c): [] for w, _ in READER_WORKLOADS for c in configs}
    for r in range(rounds + 1):
        progress(f"reader: round {r + 1} of {rounds + 1} (the first is warm-up)")
        for workload, ops in order.sample(READER_WORKLOADS, len(READER_WORKLOADS)):
            cmd = [bench.paths["pingpong"], workload, str(max(1, round(ops * scale)))]
            for config in order.sample(configs, len(configs)):
                ns, out = bench.reader_run(config, cmd)
                ns_per_op(f"{workload} under {config}", out)
                if r > 0:
                    times[(workload, config)].append(ns / 1e6)
    print(f"### 1. The reader: sockdiag against strace into `cat >/dev/null` ({rounds} rounds)\n")
    print("Wall time of the whole run (until strace's output is read to its end), ms; "
          "ratio: per round, to `strace to cat` of the same round (median, 95% interval).\n")
    rows, goals = [], []
    for workload, ops in READER_WORKLOADS:
        for config in configs:
            values = times[(workload, config)]
            ratios = [a / b for a, b in zip(values, times[(workload, "strace to cat")])]
            rows.append([workload, round(ops * scale), config, f"{statistics.median(values):.1f}",
                         "" if config == "strace to cat" else ratio_text(ratios)])
        ratios = [a / b for a, b in zip(times[(workload, "sockdiag")], times[(workload, "strace to cat")])]
        m, low, high = median_with_ci(ratios)
        goals.append((f"reader, {workload}: sockdiag adds {(m - 1) * 100:+.1f}% "
                      f"[{(low - 1) * 100:+.1f}, {(high - 1) * 100:+.1f}] to strace to cat "
                      f"(goal at most +{(READER_GOAL - 1) * 100:.0f}%)", m <= READER_GOAL))
    be.print_table(["workload", "ops", "run", "ms (median)", "vs strace to cat"], rows)
    print("\n- tcp-send: a 64-byte round trip between two threads over TCP 127.0.0.1 (4 traced calls); "
          "refused: socket + refused connect + close (one ECONNREFUSED record, to /dev/null)")
    print(f"- strace to cat: `{' '.join(strace_argv('strace', 'FIFO', ['W']))}` with `cat FIFO >/dev/null`\n")
    return goals


def measure_loop(bench, rounds, scale, order):
    configs = ("untraced", "sockdiag")
    ns = {(m, c): [] for m, _ in LOOP_WORKLOADS for c in configs}
    for r in range(rounds + 1):
        progress(f"untraced loop: round {r + 1} of {rounds + 1} (the first is warm-up)")
        for mode, ops in order.sample(LOOP_WORKLOADS, len(LOOP_WORKLOADS)):
            cmd = [bench.paths["loop"], mode, str(max(1, round(ops * scale)))]
            for config in order.sample(configs, len(configs)):
                argv = cmd if config == "untraced" else bench.sockdiag(cmd)
                _, out = bench.timed(f"{mode} {config}", [argv])
                value = ns_per_op(f"{mode} {config}", out)
                if r > 0:
                    ns[(mode, config)].append(value)
    print(f"### 2. A hot loop with no traced call, traced and untraced ({rounds} rounds)\n")
    print("ns per op as the program times its own loop; ratio: per round, traced / untraced "
          "(median, 95% interval).\n")
    rows, goals = [], []
    for mode, ops in LOOP_WORKLOADS:
        ratios = [a / b for a, b in zip(ns[(mode, "sockdiag")], ns[(mode, "untraced")])]
        m, low, high = median_with_ci(ratios)
        rows.append([mode, round(ops * scale), fmt_ns(statistics.median(ns[(mode, "untraced")])),
                     fmt_ns(statistics.median(ns[(mode, "sockdiag")])), ratio_text(ratios)])
        goals.append((f"hot loop, {mode}: traced {(m - 1) * 100:+.1f}% [{(low - 1) * 100:+.1f}, "
                      f"{(high - 1) * 100:+.1f}] against untraced (goal within "
                      f"{(LOOP_GOAL - 1) * 100:.0f}%)", m <= LOOP_GOAL))
    be.print_table(["loop", "ops", "untraced ns/op", "traced ns/op", "traced / untraced"], rows)
    print("\n- compute: xorshift arithmetic, no system call; getpid: one getpid(2) per op, "
          "a system call outside the traced set; clock: clock_gettime through the vDSO\n")
    return goals


def measure_startup(bench, runs):
    true = bench.paths["true"]
    names = ("bench_static_true", "strace to cat -- bench_static_true",
             "sockdiag run --engine strace -- bench_static_true")
    times = {name: [] for name in names}
    warmup = 3
    progress(f"start-up: {runs} interleaved runs each")
    for i in range(runs + warmup):
        for name, config in zip(names, ("none", "strace to cat", "sockdiag")):
            ns, _ = bench.reader_run(config, [true])
            if i >= warmup:
                times[name].append(ns / 1e6)
    print(f"### 3. Start-up: `sockdiag run --engine strace` of a static program that does nothing "
          f"({runs} interleaved runs)\n")
    print("ms added: per run, the difference with the program alone run just before (median, 95% "
          "interval). The middle row is the floor: strace itself, its output drained by cat.\n")
    rows = []
    for name in names:
        diffs = [t - a for t, a in zip(times[name], times[names[0]])]
        m, low, high = median_with_ci(diffs)
        rows.append([name, f"{statistics.median(times[name]):.2f}",
                     "" if name == names[0] else f"{m:+.2f} [{low:.2f}, {high:.2f}]"])
    be.print_table(["command", "ms (median)", "ms added"], rows)
    print()
    m, low, high = median_with_ci([t - a for t, a in zip(times[names[2]], times[names[0]])])
    floor = statistics.median([t - a for t, a in zip(times[names[1]], times[names[0]])])
    own = statistics.median([t - f for t, f in zip(times[names[2]], times[names[1]])])
    return [(f"start-up: sockdiag run --engine strace adds {m:.2f} ms [{low:.2f}, {high:.2f}] "
             f"(goal within {STARTUP_GOAL_MS:g} ms; strace alone adds {floor:.2f} ms here, "
             f"sockdiag {own:+.2f} ms to that)", m <= STARTUP_GOAL_MS)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", metavar="DIR", help="the CMake build directory; gives the defaults of "
                        "--sockdiag, --pingpong, --loop and --true")
    parser.add_argument("--sockdiag", help="the command (default DIR/tools/sockdiag/sockdiag)")
    parser.add_argument("--pingpong", help="static ping-pong (default DIR/tools/bench/bench_pingpong_static)")
    parser.add_argument("--loop", help="the untraced loop (default DIR/tools/bench/bench_untraced_loop)")
    parser.add_argument("--true", help="a static program doing nothing "
                        "(default DIR/tools/bench/bench_static_true)")
    parser.add_argument("--rounds", type=be.positive(int), default=11,
                        help="rounds of the reader and loop measurements (default 11, after one warm-up)")
    parser.add_argument("--runs", type=be.positive(int), default=51,
                        help="start-up runs of each command (default 51, after 3 warm-up runs)")
    parser.add_argument("--scale", type=be.positive(float), default=1.0,
                        help="multiplies the ops per run (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="a first look in some 10 seconds: 3 rounds, 11 start-up runs, a quarter "
                        "of the ops (overrides --rounds, --runs, --scale)")
    parser.add_argument("--skip", default="", metavar="PARTS",
                        help="comma-separated parts to leave out: reader, loop, startup")
    parser.add_argument("--seed", type=int, default=1, help="seed of the run order (default 1)")
    parser.add_argument("--timeout", type=be.positive(int), default=120,
                        help="seconds one run may take (default 120)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.runs, args.scale = 3, 11, 0.25
    skip = set(filter(None, args.skip.split(",")))
    unknown = skip - {"reader", "loop", "startup"}
    if unknown:
        be.fail(f"--skip: unknown part {', '.join(sorted(unknown))}; expected some of reader, loop, startup")

    defaults = {"sockdiag": "tools/sockdiag/sockdiag", "pingpong": "tools/bench/bench_pingpong_static",
                "loop": "tools/bench/bench_untraced_loop", "true": "tools/bench/bench_static_true"}
    paths = be.built_paths(args, defaults, "sockdiag bench_pingpong_static bench_untraced_loop bench_static_true")
    paths["strace"] = shutil.which("strace") or be.fail("strace is not installed (Debian package strace)")

    print(f"## The strace engine ({machine()})\n")
    order = random.Random(args.seed)
    bench = Bench(paths, args.timeout)
    goals = []
    try:
        if "reader" not in skip:
            goals += measure_reader(bench, args.rounds, args.scale, order)
        if "loop" not in skip:
            goals += measure_loop(bench, args.rounds, args.scale, order)
        if "startup" not in skip:
            goals += measure_startup(bench, args.runs)
    finally:
        bench.close()
    print("### Goals\n")
    for text, met in goals:
        print(f"- {verdict(met)}: {text}")


if __name__ == "__main__":
    main()
