#!/usr/bin/env python3
"""Wall time of T threads each draining its own idle non-blocking TCP socket
to EAGAIN at once (bench_pingpong eagain-threads T N), for T = 1, 2, 4, ...
up to the CPU count, under no preload, the bare preload and libsockdiag's
configurations: per T, the median ratio to no preload over interleaved
rounds, with a 95% confidence interval. A counter that every thread writes
makes its cache line bounce between their cores on every call, and the ratio
grow with T; counters of each thread's own keep it flat. See README.md."""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import bench
import benchenv as be

ITERATIONS = 100000  # recv calls per thread per run: some 100 ms on a laptop


def thread_counts(text):
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > 1024:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of thread counts from 1 to 1024")
    return counts


def default_thread_counts():
    """1, 2, 4, ... up to the CPU count (at least 2), the CPU count itself last."""
    cpus = max(2, os.cpu_count() or 1)
    counts, t = [], 1
    while t < cpus:
        counts.append(t)
        t *= 2
    return counts + [cpus]


def extra_lib(text):
    name, eq, path = text.partition("=")
    if not eq or not name or not path:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=PATH")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return be.Config(name, os.path.abspath(path))


def run_once(paths, threads, iterations, config, timeout):
    """ns per op (one recv of every thread) of one run."""
    argv = [paths["pingpong"], "eagain-threads", str(threads), str(iterations)]
    what = f"eagain-threads {threads} under {config.name} ({be.describe(config)})"
    with tempfile.TemporaryFile() as err, be.prepared(config, argv) as (argv, env):
        try:
            done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=err,
                                  timeout=timeout, text=True)
        except subprocess.TimeoutExpired:
            be.fail(f"{what} ran over {timeout} s; stopped")
        if done.returncode != 0:
            be.fail(f"{what} exited with status {done.returncode}; its stderr ends:\n{be.tail(err)}")
    found = bench.RESULT.match(done.stdout.strip())
    if not found:
        be.fail(f"{what} printed '{done.stdout.strip()}', expected 'MODE: N ops, X ns/op'")
    return float(found.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    be.add_program_args(parser)
    parser.add_argument("--configs", nargs="+", metavar="FILE",
                        default=[os.path.join(be.HERE, "configs.txt")],
                        help="the files of configurations (default: configs.txt here)")
    parser.add_argument("--select", metavar="NAMES", default="default",
                        help="comma-separated: the configurations of the files measured "
                        "(default: default; none and bare always)")
    parser.add_argument("--also", type=extra_lib, action="append", default=[], metavar="NAME=PATH",
                        help="another libsockdiag.so measured with no setting, e.g. the build "
                        "before a change, as configuration NAME (may be repeated)")
    parser.add_argument("--threads", type=thread_counts, default=default_thread_counts(),
                        help="comma-separated thread counts (default: 1, 2, 4, ... up to the "
                        f"CPU count, at least 2: {','.join(map(str, default_thread_counts()))})")
    bench.add_timing_args(parser, runs=21)
    args = parser.parse_args()
    args.workloads = "eagain"
    paths, _, configs = be.resolve(args)
    configs += args.also
    if args.cpus:
        os.sched_setaffinity(0, args.cpus)
    iterations = max(1, round(ITERATIONS * args.scale))

    # samples[(threads, config)][r]: ns/op in round r; within a round, the
    # configurations of one thread count run back to back, shuffled.
    samples = {(t, c.name): [] for t in args.threads for c in configs}
    order = random.Random(args.seed)
    todo = list(args.threads)
    for round_number in range(1, args.runs + 1):
        print(f"round {round_number}/{args.runs}", file=sys.stderr, flush=True)
        order.shuffle(todo)
        for t in todo:
            for c in order.sample(configs, len(configs)):
                samples[(t, c.name)].append(run_once(paths, t, iterations, c, args.timeout))

    print(f"{bench.machine()}; {args.runs} rounds; CPUs used: "
          + ",".join(map(str, sorted(os.sched_getaffinity(0)))))
    print()
    rows = []
    for c in configs:
        for t in args.threads:
            values = samples[(t, c.name)]
            vs_none = [a / b for a, b in zip(values, samples[(t, "none")])]
            rows.append([c.name, t, bench.fmt_ns(statistics.median(values)),
                         "" if c.name == "none" else bench.fmt_ratio(vs_none)])
    be.print_table(["config", "threads", "median ns/op", "vs none"], rows)
    print()
    print(f"- op: one recv of every thread on its own idle non-blocking TCP socket "
          f"(127.0.0.1), -1 EAGAIN; {iterations} ops per run")
    for c in configs:
        print(f"- {c.name}: {c.preload if c in args.also else be.describe(c)}")


if __name__ == "__main__":
    main()
