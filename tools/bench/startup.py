#!/usr/bin/env python3
"""What loading libsockdiag costs a process that does nothing: three
measurements against the start-up goals of README's speed section.

1. User-space instructions (callgrind) of /bin/true with no preload, with
   the forwarding-only preload (bare) and with libsockdiag and no setting:
   the instructions libsockdiag adds before and after main (goal: at most
   100,000).
2. Wall time of `sh -c 'for i in $(seq N); do /bin/true; done'` with and
   without LD_PRELOAD (bare too), in interleaved rounds: per exec, and the
   ratio to no preload of the same round.
3. Wall time and page faults of `sockdiag run -- true` against `true`
   alone, interleaved runs: the median difference (goal: within 2 ms),
   beside the library alone and the library behind the least launcher.

See README.md. Progress goes to stderr, the report (Markdown) to stdout."""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be
from bench import machine, median_with_ci

TRUE = "/bin/true"
IR_GOAL = 100_000
RUN_GOAL_MS = 2.0


def progress(text):
    print(text, file=sys.stderr, flush=True)


def clean_env(preload=""):
    """Our environment minus any preload or sockdiag setting, plus `preload`."""
    return be.run_env(be.Config("startup", preload))


def callgrind_ir(preload, scratch, timeout):
    """Total Ir of one run of /bin/true under callgrind with `preload`."""
    name = os.path.basename(preload) if preload else "none"
    out = os.path.join(scratch, f"true.{name}.callgrind.out")
    log = os.path.join(scratch, f"true.{name}.valgrind.log")
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--log-file={log}", TRUE]
    try:
        done = subprocess.run(argv, env=clean_env(preload), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError:
        be.fail("valgrind is not installed (Debian package valgrind)")
    except subprocess.TimeoutExpired:
        be.fail(f"{TRUE} under valgrind with {name} ran over {timeout} s; stopped")
    if done.returncode != 0:
        be.fail(f"{TRUE} under valgrind with {name} exited with status {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}")
    return be.callgrind_total(out, f"{TRUE} under valgrind with {name}", preload)


def print_instructions(paths, timeout):
    with tempfile.TemporaryDirectory(prefix="sockdiag-startup-") as scratch:
        ir = {}
        for name, preload in (("none", ""), ("bare", paths["bare"]), ("libsockdiag", paths["lib"])):
            progress(f"callgrind: {TRUE} with {name}")
            ir[name] = callgrind_ir(preload, scratch, timeout)
    added = ir["libsockdiag"] - ir["none"]
    print(f"### Instructions of `{TRUE}` (callgrind, user space, whole process)\n")
    be.print_table(["preload", "Ir", "added vs none", "added vs bare"],
                   [[name, f"{v:,}", f"{v - ir['none']:+,}", f"{v - ir['bare']:+,}"]
                    for name, v in ir.items()])
    verdict = "within" if added <= IR_GOAL else "OVER"
    print(f"\nlibsockdiag with no setting adds {added:,} instructions: {verdict} "
          f"the goal of {IR_GOAL:,}.\n")


def time_once(argv, env):
    t0 = time.perf_counter_ns()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter_ns() - t0
    if done.returncode != 0:
        be.fail(f"`{' '.join(argv)}` exited with status {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def print_loop(paths, rounds, count):
    sh = shutil.which("sh") or be.fail("no sh in PATH")
    argv = [sh, "-c", f'for i in $(seq {count}); do {TRUE}; done']
    configs = [("none", ""), ("bare", paths["bare"]), ("libsockdiag", paths["lib"])]
    envs = {name: clean_env(preload) for name, preload in configs}
    times = {name: [] for name, _ in configs}
    for r in range(rounds + 1):
        progress(f"shell loop: round {r + 1} of {rounds + 1} (the first is warm-up)")
        # Rotating the order: a drift in the machine's speed hits each alike.
        order = configs[r % 3:] + configs[:r % 3]
        for name, _ in order:
            ns = time_once(argv, envs[name])
            if r > 0:
                times[name].append(ns)
    print(f"### `sh -c 'for i in $(seq {count}); do {TRUE}; done'` (wall time, {rounds} rounds)\n")
    print("LD_PRELOAD reaches sh and every /bin/true. Per exec: the loop's time / "
          f"{count}; vs none: per round, the ratio to the none run of the same round "
          "(median, 95% interval).\n")
    rows = []
    for name, _ in configs:
        med, low, high = median_with_ci(times[name])
        per_exec = lambda ns: f"{ns / count / 1000:.0f}"
        ratios = [t / n for t, n in zip(times[name], times["none"])]
        rm, rl, rh = median_with_ci(ratios)
        extra = statistics.median([(t - n) / count / 1000 for t, n in zip(times[name], times["none"])])
        rows.append([name, f"{med / 1e6:.0f}", per_exec(med), f"{extra:+.0f}",
                     f"x{rm:.3f} [{rl:.3f}, {rh:.3f}]"])
    be.print_table(["preload", "loop ms (median)", "µs per exec", "µs added per exec", "vs none"], rows)
    print()


def spawn_once(argv, env):
    """Wall time (ns) and minor page faults of one run, its children included
    (wait4's rusage): faults repeat from run to run where time does not."""
    t0 = time.perf_counter_ns()
    with open(os.devnull, "wb") as null:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, null.fileno(), 1), (os.POSIX_SPAWN_DUP2, null.fileno(), 2)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter_ns() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        be.fail(f"`{' '.join(argv)}` ended with status {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_minflt


def print_run(paths, runs):
    true = shutil.which("true") or TRUE
    env = clean_env()
    preloaded = clean_env(paths["lib"])
    # What the goal compares (true, then sockdiag run), and two floors between
    # them: the library alone, and the library behind the least launcher
    # that adds a process (launcher_floor.c).
    commands = [("true", [true], env),
                ("LD_PRELOAD=libsockdiag.so true", [true], preloaded),
                ("launcher floor + LD_PRELOAD true", [paths["floor"], true], preloaded),
                ("sockdiag run -- true", [paths["sockdiag"], "run", "--", true], env)]
    times = {name: [] for name, _, _ in commands}
    faults = {name: [] for name, _, _ in commands}
    warmup = 10
    progress(f"sockdiag run: {runs} interleaved runs each")
    for i in range(runs + warmup):
        for name, argv, e in commands:
            ns, minflt = spawn_once(argv, e)
            if i >= warmup:
                times[name].append(ns / 1e6)
                faults[name].append(minflt)
    print(f"### `sockdiag run -- true` against `true` (wall time, {runs} interleaved runs)\n")
    print("Minor page faults are the process's and its children's (wait4), medians; "
          "added: median of the paired differences with `true` of the same round.\n")
    rows = []
    for name, v in times.items():
        med, low, high = median_with_ci(v)
        added = statistics.median([a - t for a, t in zip(v, times["true"])])
        rows.append([name, f"{med:.3f}", f"[{low:.3f}, {high:.3f}]", f"{added:+.3f}",
                     f"{statistics.median(faults[name]):.0f}"])
    be.print_table(["command", "ms (median)", "95% interval", "ms added", "page faults"], rows)
    diffs = [s - t for s, t in zip(times["sockdiag run -- true"], times["true"])]
    med, low, high = median_with_ci(diffs)
    verdict = "within" if med <= RUN_GOAL_MS else "OVER"
    floor = statistics.median([f - t for f, t in zip(times["launcher floor + LD_PRELOAD true"], times["true"])])
    print(f"\n`sockdiag run` adds {med:.3f} ms [{low:.3f}, {high:.3f}] (median of the paired "
          f"differences): {verdict} the goal of {RUN_GOAL_MS:g} ms. The floor (a second process "
          f"that does nothing but start CMD, and the library in CMD) adds {floor:.3f} ms.\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", metavar="DIR", help="the CMake build directory; gives the "
                        "defaults of --lib, --bare and --sockdiag")
    parser.add_argument("--lib", help="libsockdiag.so (default DIR/shim/libsockdiag.so)")
    parser.add_argument("--bare", help="the forwarding-only preload "
                        "(default DIR/tools/bench/libbench_bare.so)")
    parser.add_argument("--sockdiag", help="the command (default DIR/tools/sockdiag/sockdiag)")
    parser.add_argument("--floor", help="the least launcher "
                        "(default DIR/tools/bench/bench_launcher_floor)")
    parser.add_argument("--rounds", type=be.positive(int), default=7,
                        help="rounds of the shell loop under each preload (default 7)")
    parser.add_argument("--count", type=be.positive(int), default=1000,
                        help="execs of /bin/true per shell loop (default 1000)")
    parser.add_argument("--runs", type=be.positive(int), default=201,
                        help="runs of `sockdiag run -- true` and of `true` (default 201)")
    parser.add_argument("--skip", default="", metavar="PARTS",
                        help="comma-separated parts to leave out: callgrind, loop, run")
    parser.add_argument("--callgrind-timeout", type=be.positive(int), default=300,
                        help="seconds one valgrind run may take (default 300)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    unknown = skip - {"callgrind", "loop", "run"}
    if unknown:
        be.fail(f"--skip: unknown part {', '.join(sorted(unknown))}; expected some of callgrind, loop, run")

    defaults = {"lib": "shim/libsockdiag.so", "bare": "tools/bench/libbench_bare.so",
                "sockdiag": "tools/sockdiag/sockdiag", "floor": "tools/bench/bench_launcher_floor"}
    paths = be.built_paths(args, defaults, "sockdiag_preload bench_bare bench_launcher_floor sockdiag")

    print(f"## Start-up of libsockdiag ({machine()})\n")
    if "callgrind" not in skip:
        print_instructions(paths, args.callgrind_timeout)
    if "loop" not in skip:
        print_loop(paths, args.rounds, args.count)
    if "run" not in skip:
        print_run(paths, args.runs)


if __name__ == "__main__":
    main()
