#!/usr/bin/env python3
"""Wall time of each workload under each configuration: the median ns per op
of repeated runs. Runs are interleaved: every round runs every workload under
every configuration, in a shuffled order, so that a slow moment of the
machine is spread over all configurations instead of hitting one. Ratios are
paired: the median over rounds of the ratio within a round, with a 95%
confidence interval. See README.md."""
import argparse
import datetime
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be

RESULT = re.compile(r"^\S+: (\d+) ops, ([0-9.]+) ns/op$")


def cpu_list(text):
    try:
        cpus = {int(c) for c in text.split(",")}
    except ValueError:
        cpus = set()
    if not cpus or not cpus <= os.sched_getaffinity(0):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of CPUs this process may use "
            f"({','.join(map(str, sorted(os.sched_getaffinity(0))))})")
    return cpus


def run_once(paths, workload, iterations, config, timeout):
    """ns/op of one run. The run's stderr (records of the default
    configuration included) goes to a temporary file, shown on failure."""
    what = f"{workload.name} under {config.name} ({be.describe(config)})"
    with tempfile.TemporaryFile() as err, \
            be.prepared(config, be.command(paths, workload, iterations)) as (argv, env):
        try:
            done = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                                  stderr=err, timeout=timeout, text=True)
        except FileNotFoundError:
            be.fail(f"{what}: {argv[0]} is not installed")
        except subprocess.TimeoutExpired:
            be.fail(f"{what} ran over {timeout} s; stopped")
        if done.returncode != 0:
            be.fail(f"{what} exited with status {done.returncode}; "
                    f"its stderr ends:\n{be.tail(err)}")
    found = RESULT.match(done.stdout.strip())
    if not found:
        be.fail(f"{what} printed '{done.stdout.strip()}', expected 'MODE: N ops, X ns/op'")
    return float(found.group(2))


def fmt_ns(ns):
    return f"{ns:.0f}" if ns >= 100 else f"{ns:.1f}"


def median_with_ci(values):
    """The median and a distribution-free 95% confidence interval for it:
    the order statistics k and n-1-k, k from the normal approximation of
    the binomial (n/2 - 0.98 sqrt(n))."""
    ordered = sorted(values)
    n = len(ordered)
    k = max(0, int((n - 1.96 * math.sqrt(n)) / 2))
    return statistics.median(ordered), ordered[k], ordered[n - 1 - k]


def fmt_ratio(ratios):
    median, low, high = median_with_ci(ratios)
    pct = lambda r: f"{(r - 1) * 100:+.1f}"
    return f"{pct(median)}% [{pct(low)}, {pct(high)}]"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def add_timing_args(parser, runs):
    parser.add_argument("--runs", type=be.positive(int), default=runs,
                        help=f"runs of each workload under each configuration (default {runs})")
    parser.add_argument("--scale", type=be.positive(float), default=1.0,
                        help="multiplies every workload's iterations per run (default 1)")
    parser.add_argument("--cpus", type=cpu_list,
                        help="run the workloads on these CPUs only, e.g. 0 to put "
                        "client and echo thread on one core (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the run order (default 1)")
    parser.add_argument("--timeout", type=be.positive(int), default=300,
                        help="seconds one run may take (default 300)")


def machine():
    return (f"{datetime.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, "
            f"Linux {platform.release()}")


class Timings:
    """The runs of every workload under every configuration, in rounds."""

    def __init__(self, args, paths, workloads, configs):
        if args.cpus:
            os.sched_setaffinity(0, args.cpus)  # children inherit it
        self.workloads, self.runs = workloads, args.runs
        self.iterations = {w.name: max(1, round(w.iterations * args.scale)) for w in workloads}
        self.record_configs = be.record_configs(paths["lib"])
        self.configs = configs
        self.configs_of = {w.name: configs + (self.record_configs if w.name == "refused" else [])
                           for w in workloads}
        # samples[(workload, config)][r]: ns/op in round r. Within a round a
        # workload's configurations run back to back (shuffled), so the ratio
        # of two of them in one round compares runs seconds apart.
        self.samples = {(w.name, c.name): [] for w in workloads for c in self.configs_of[w.name]}
        order = random.Random(args.seed)
        todo = list(workloads)
        for round_number in range(1, args.runs + 1):
            print(f"round {round_number}/{args.runs}", file=sys.stderr, flush=True)
            order.shuffle(todo)
            for w in todo:
                for c in order.sample(self.configs_of[w.name], len(self.configs_of[w.name])):
                    self.samples[(w.name, c.name)].append(
                        run_once(paths, w, self.iterations[w.name], c, args.timeout))

    def paired(self, workload, config, base):
        """Per round, config's ns/op / base's ns/op."""
        return [a / b for a, b in zip(self.samples[(workload, config)],
                                      self.samples[(workload, base)])]

    def added(self, workload, config, base="none"):
        """Per round, config's ns/op - base's ns/op."""
        return [a - b for a, b in zip(self.samples[(workload, config)],
                                      self.samples[(workload, base)])]

    def print_table(self):
        rows = []
        for w in self.workloads:
            for c in self.configs_of[w.name]:
                values = self.samples[(w.name, c.name)]
                q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") \
                    if len(values) > 1 else (values[0],) * 3
                rows.append([w.name, c.name, fmt_ns(statistics.median(values)),
                             f"{fmt_ns(q1)}–{fmt_ns(q3)}",
                             f"{fmt_ns(min(values))}–{fmt_ns(max(values))}",
                             "" if c.name == "bare" else fmt_ratio(self.paired(w.name, c.name, "bare")),
                             "" if c.name == "none" else fmt_ratio(self.paired(w.name, c.name, "none"))])
        be.print_table(["workload", "config", "median ns/op", "IQR", "min–max",
                        "vs bare", "vs none"], rows)
        print()
        for w in self.workloads:
            print(f"- {w.name}: {self.iterations[w.name]} ops per run; op = {w.op}")
        for c in self.configs + (self.record_configs if "refused" in self.iterations else []):
            print(f"- {c.name}: {be.describe(c)}")

    def print_record_cost(self):
        if "refused" not in self.iterations:
            return
        print()
        for name, form in ((be.RECORDS, "text"), (be.JSON_RECORDS, "JSON")):
            cost, low, high = median_with_ci(self.added("refused", name, be.NO_RECORDS))
            print(f"Cost of writing one {form} record: {fmt_ns(cost)} ns [{fmt_ns(low)}, {fmt_ns(high)}] "
                  f"(refused connect, one ECONNREFUSED record each: median over rounds of ns/op "
                  f"under '{name}' minus ns/op under '{be.NO_RECORDS}')")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    be.add_path_args(parser)
    add_timing_args(parser, runs=41)
    args = parser.parse_args()
    paths, workloads, configs = be.resolve(args)
    timings = Timings(args, paths, workloads, configs)
    print(f"{machine()}; {args.runs} rounds; CPUs used: "
          + ",".join(map(str, sorted(os.sched_getaffinity(0)))))
    print()
    timings.print_table()
    timings.print_record_cost()


if __name__ == "__main__":
    main()
