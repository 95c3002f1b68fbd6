#!/bin/bash
# Start-up cost of `sockdiag run -- true` over `true` alone (its goal: README,
# Speed: The goals), split into the library's own load and initialisation
# (LD_PRELOAD=libsockdiag.so true) and the command around it.
#
#   tools/bench/run_startup.sh [SOCKDIAG] [RUNS]
#
# SOCKDIAG defaults to the build tree's tools/sockdiag/sockdiag under ./build,
# RUNS to 300. The three commands are run interleaved (so that drift in the
# machine's load hits all of them alike) from one python3 process, and the
# medians compared. Exit status 1 when the median cost reaches the budget.
set -eu -o pipefail

SOCKDIAG=${1:-build/tools/sockdiag/sockdiag}
RUNS=${2:-300}
[ -x "$SOCKDIAG" ] || { echo "run_startup.sh: no executable sockdiag at '$SOCKDIAG'" >&2; exit 2; }
LIB=$("$SOCKDIAG" libpath)
TRUE=$(command -v true)

exec python3 - "$SOCKDIAG" "$LIB" "$TRUE" "$RUNS" <<'PY'
import os, statistics, subprocess, sys, time

sockdiag, lib, true, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
BUDGET_MS = 5.0
env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKDIAG_") and k != "LD_PRELOAD"}
commands = {
    "true": ([true], env),
    "LD_PRELOAD=libsockdiag.so true": ([true], dict(env, LD_PRELOAD=lib)),
    "sockdiag run -- true": ([sockdiag, "run", "--", true], env),
}
times = {name: [] for name in commands}
for i in range(runs + 20):
    for name, (argv, e) in commands.items():
        t0 = time.perf_counter_ns()
        subprocess.run(argv, env=e, check=True)
        if i >= 20:  # warm-up: page cache, dynamic loader caches
            times[name].append((time.perf_counter_ns() - t0) / 1e6)

def q(v, p):
    return statistics.quantiles(v, n=100)[p - 1]

base = statistics.median(times["true"])
print(f"{runs} interleaved runs each; wall time in ms (median, p10..p90)")
for name, v in times.items():
    m = statistics.median(v)
    print(f"  {name:32} {m:7.3f}  ({q(v, 10):.3f}..{q(v, 90):.3f})  +{m - base:.3f} over true")
cost = statistics.median(times["sockdiag run -- true"]) - base
verdict = "within" if cost < BUDGET_MS else "OVER"
print(f"sockdiag run costs {cost:.3f} ms more than true: {verdict} the {BUDGET_MS:g} ms budget")
sys.exit(0 if cost < BUDGET_MS else 1)
PY
