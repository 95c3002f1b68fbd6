#!/usr/bin/env python3
"""The peer comparison of libsockdiag with strace and libfiu, in one run:
wall time of every workload (process start-up included) under no preload,
the bare forwarding preload, libsockdiag's configurations and its peers
(trace logging to a file, strace, libfiu); the peak RSS libsockdiag adds;
callgrind's instruction counts; and the added time per call of strace
against libsockdiag's. Builds nothing: give it a build directory where the
benchmark targets are built. See README.md."""
import argparse
import os
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import bench
import benchenv as be
import callgrind

PEER_CONFIGS = "default,retry,inject20,trace-file,strace,fiu"
PINGPONGS = ["tcp-send", "tcp-rw", "unix-send", "unix-rw"]
RSS_RUNS = [("rss-pingpong", 2000, "after 2,000 TCP round trips"),
            ("rss-sockets", 10000, "with 10,000 TCP loopback sockets open")]
RSS_GOAL_KB = 2048
STRACE_GOAL = 20


def peak_rss(paths, mode, count, config, repeats):
    """The median over `repeats` runs of the peak RSS (kB) of bench_pingpong MODE."""
    values = []
    for _ in range(repeats):
        what = f"{mode} under {config.name} ({be.describe(config)})"
        with be.prepared(config, [paths["pingpong"], mode, str(count)]) as (argv, env):
            done = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, timeout=300)
        words = done.stdout.split()
        if done.returncode != 0 or len(words) < 5 or words[-3:] != ["kB", "peak", "RSS"] \
                or not words[-4].isdigit():
            be.fail(f"{what} failed (status {done.returncode}); it printed "
                    f"'{done.stdout.strip()}' and on stderr: {done.stderr.strip()[-1000:]}")
        values.append(int(words[-4]))
    return statistics.median(values)


def print_rss(paths, configs, repeats):
    rss = {(mode, c.name): peak_rss(paths, mode, count, c, repeats)
           for mode, count, _ in RSS_RUNS for c in configs}
    rows = []
    for c in configs:
        row = [c.name]
        for mode, _, _ in RSS_RUNS:
            kb = rss[(mode, c.name)]
            row += [f"{kb:.0f}",
                    "" if c.name == "none" else f"{kb - rss[(mode, 'none')]:+.0f}",
                    "" if c.name in ("none", "bare") else f"{kb - rss[(mode, 'bare')]:+.0f}"]
        rows.append(row)
    header = ["config"]
    for mode, _, _ in RSS_RUNS:
        header += [f"{mode} kB", "vs none", "vs bare"]
    print(f"Peak RSS (VmHWM, kB; median of {repeats} runs):")
    for mode, count, what in RSS_RUNS:
        print(f"- {mode}: {what} (bench_pingpong {mode} {count})")
    print()
    be.print_table(header, rows)
    print()
    worst = max(rss[(mode, "default")] - rss[(mode, "none")] for mode, _, _ in RSS_RUNS)
    print(f"Goal: libsockdiag (default) adds under {RSS_GOAL_KB} kB: "
          f"{'met' if worst < RSS_GOAL_KB else 'NOT met'} (largest addition {worst:+.0f} kB)")


def print_strace_vs_default(timings):
    """(strace - none) / (default - none) per call on the ping-pongs, from
    per-round differences, with the conservative ratio of the far ends of
    their 95% intervals."""
    print("Added time per call, strace against libsockdiag (default), ping-pong: "
          "per round ns/op minus none's, / 4 calls; medians [95% intervals]")
    print()
    rows = []
    for w in PINGPONGS:
        if w not in timings.iterations:
            continue
        s, s_low, s_high = bench.median_with_ci([d / 4 for d in timings.added(w, "strace")])
        d, d_low, d_high = bench.median_with_ci([d / 4 for d in timings.added(w, "default")])
        ratio = f"{s / d:.0f}×" if d > 0 else "default adds nothing measurable"
        floor = f"{s_low / d_high:.0f}×" if d_high > 0 else "unbounded (default's interval ≤ 0)"
        verdict = "met" if d_high <= 0 or s_low / d_high >= STRACE_GOAL else \
            ("met at the medians" if d > 0 and s / d >= STRACE_GOAL else "NOT met")
        rows.append([w, f"{bench.fmt_ns(s)} [{bench.fmt_ns(s_low)}, {bench.fmt_ns(s_high)}]",
                     f"{bench.fmt_ns(d)} [{bench.fmt_ns(d_low)}, {bench.fmt_ns(d_high)}]",
                     ratio, floor, verdict])
    be.print_table(["workload", "strace ns/call", "default ns/call", "ratio of medians",
                    "ratio, worst case of intervals", f"goal ≥ {STRACE_GOAL}×"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    be.add_path_args(parser)
    parser.set_defaults(configs=[os.path.join(be.HERE, "configs.txt"),
                                 os.path.join(be.HERE, "peers.txt")],
                        select=PEER_CONFIGS,
                        workloads=",".join(be.WORKLOAD_NAMES))
    bench.add_timing_args(parser, runs=15)
    parser.set_defaults(scale=0.5)
    callgrind.add_callgrind_args(parser, timeout_flag="--callgrind-timeout")
    parser.add_argument("--rss-runs", type=be.positive(int), default=3,
                        help="runs per peak-RSS figure, the median kept (default 3)")
    parser.add_argument("--skip-callgrind", action="store_true",
                        help="no instruction counts (they take about half the time)")
    args = parser.parse_args()
    paths, workloads, configs = be.resolve(args)
    names = [c.name for c in configs]
    if any(w.name in PINGPONGS for w in workloads) and not {"strace", "default"} <= set(names):
        be.fail("--select: the strace comparison needs the configurations default and strace")

    timings = bench.Timings(args, paths, workloads, configs)
    counted = [w for w in workloads if w.program == "pingpong"]
    counts = None if args.skip_callgrind or not counted else \
        callgrind.Counts(args, paths, counted, configs)

    print(f"# sockdiag peer benchmark, {bench.machine()}")
    print()
    print(f"Wall time: {args.runs} rounds, iterations × {args.scale:g}; CPUs used: "
          + ",".join(map(str, sorted(os.sched_getaffinity(0)))))
    print()
    timings.print_table()
    timings.print_record_cost()
    print()
    if any(w.name in PINGPONGS for w in workloads):
        print_strace_vs_default(timings)
        print()
    print_rss(paths, [c for c in configs if c.name in ("none", "bare", "default", "trace-file",
                                                        "strace", "fiu")], args.rss_runs)
    if counts:
        print()
        counts.print_table()


if __name__ == "__main__":
    main()
