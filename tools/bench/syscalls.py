#!/usr/bin/env python3
"""System calls libsockdiag adds per failure, counted by strace (a count, so
it repeats from run to run like callgrind's instructions).

Each workload runs at two sizes under `strace -f -c`; (calls(big) -
calls(small)) / (big - small) is the system calls of one op, with start-up
and exit cancelled out. The same without a preload, subtracted, is what the
library adds. Measured:

- refused: a refused connect's ECONNREFUSED record written to a log file
  (SOCKDIAG_LOG), to stderr redirected to a file (the default log), and to
  /dev/null (no write at all); goal: one system call, the record's write;
- eagain: an expected EAGAIN, counted and not written; goal: none.
See README.md."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be

# strace -c's table: "% time seconds usecs/call calls errors syscall", then
# a "total" row whose calls column is the sum.
TOTAL = re.compile(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total\s*$", re.MULTILINE)


# (name, workload, settings, goal per op). Every run's stderr is a file.
MEASURES = [
    ("record to a log file", "refused", {"SOCKDIAG_LOG": be.TMPFILE}, 1),
    ("record to stderr, a file", "refused", {}, 1),
    ("record to /dev/null", "refused", {"SOCKDIAG_LOG": "/dev/null"}, 0),
    ("expected EAGAIN, counted", "eagain", {}, 0),
]


def calls(paths, workload, iterations, config):
    """Total system calls of one run (all threads) under strace -f -c."""
    what = f"{workload} {iterations} under {config.name}"
    with tempfile.TemporaryDirectory(prefix="sockdiag-syscalls-") as scratch:
        table = os.path.join(scratch, "strace.txt")
        argv = ["strace", "-f", "-qq", "-c", "-o", table, paths["pingpong"], workload, str(iterations)]
        err_path = os.path.join(scratch, "stderr")
        with open(err_path, "w+b") as err:
            try:
                done = subprocess.run(argv, env=be.run_env(config, scratch), stdout=subprocess.DEVNULL,
                                      stderr=err, timeout=600)
            except FileNotFoundError:
                be.fail("strace is not installed")
            if done.returncode != 0:
                be.fail(f"{what} exited with status {done.returncode} under strace; its stderr ends:\n"
                        f"{be.tail(err)}")
        found = TOTAL.search(open(table, encoding="utf-8", errors="replace").read())
        if not found:
            be.fail(f"{what}: no total line in strace's table")
        return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", metavar="DIR", required=True, help="the CMake build directory")
    parser.add_argument("--sizes", default="1000,3000",
                        help="the two op counts, SMALL,BIG (default 1000,3000)")
    args = parser.parse_args()
    try:
        small, big = (int(s) for s in args.sizes.split(","))
        assert 0 < small < big
    except (ValueError, AssertionError):
        be.fail(f"--sizes: '{args.sizes}' is not SMALL,BIG op counts with 0 < SMALL < BIG")
    paths = {"lib": os.path.join(args.build, "shim/libsockdiag.so"),
             "pingpong": os.path.join(args.build, "tools/bench/bench_pingpong")}
    for key, path in paths.items():
        if not os.path.isfile(path):
            be.fail(f"{path} does not exist (build it first: cmake --build DIR --target sockdiag_preload "
                    "bench_pingpong)")
    none = be.Config("none", "")
    per_op = {}
    rows = []
    for name, workload, settings, goal in MEASURES:
        if (workload, "none") not in per_op:
            counts = [calls(paths, workload, n, none) for n in (small, big)]
            per_op[(workload, "none")] = (counts[1] - counts[0]) / (big - small)
        config = be.Config(name.replace(" ", "-"), paths["lib"], settings)
        print(f"syscalls: {workload} under {name}", file=sys.stderr, flush=True)
        counts = [calls(paths, workload, n, config) for n in (small, big)]
        added = (counts[1] - counts[0]) / (big - small) - per_op[(workload, "none")]
        rows.append([workload, name, f"{per_op[(workload, 'none')]:.2f}", f"{added:+.2f}", f"{goal}",
                     "met" if added <= goal else "NOT met"])
    print(f"strace -f -c, system calls; per op = difference of runs of {small} and {big} ops / {big - small}")
    print()
    be.print_table(["workload", "libsockdiag", "calls/op without preload", "added per op", "goal", ""], rows)


if __name__ == "__main__":
    main()
