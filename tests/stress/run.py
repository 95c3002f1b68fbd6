#!/usr/bin/env python3
"""Runs one case of libsockdiag's real-program tests (tests/realprogs) or
load-and-fault tests (tests/stress), or lists a suite's cases.

  run.py --suite realprogs|stress --list      one "ID<TAB>TITLE" line per case
  run.py --suite S --lib L --progs D --build-dir B [--calls N] CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 77 when the case cannot
run on this machine (the reason is printed), 2 on wrong usage.
"""
import argparse
import importlib
import os
import signal
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
# The integration tests' harness runs the processes and reads the records.
sys.path[:0] = [os.path.join(TESTS, "integration"), HERE, os.path.join(TESTS, "realprogs")]

import harness  # noqa: E402
import proof  # noqa: E402

SUITES = {
    "realprogs": ["cases_http_clients", "cases_python_sockets", "cases_node", "cases_java", "cases_tools"],
    "stress": ["cases_load", "cases_fds_limits", "cases_secure"],
}


def on_term(signum, frame):
    # `timeout` sends SIGTERM: unwind so that the case's processes are killed.
    raise SystemExit(f"stopped by signal {signum} (time limit?)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, choices=sorted(SUITES))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--build-dir")
    parser.add_argument("--calls", type=int, default=proof.DEFAULT_CALLS)
    parser.add_argument("case", nargs="?")
    args = parser.parse_args()
    for module in SUITES[args.suite]:
        importlib.import_module(module)  # registers its cases
    if args.list:
        for ident, (title, _) in harness.CASES.items():
            print(f"{ident}\t{title}")
        return 0
    if not (args.lib and args.progs and args.build_dir and args.case):
        parser.print_usage(sys.stderr)
        return 2
    if args.case not in harness.CASES:
        print(f"run.py: no case '{args.case}' in suite {args.suite}; accepted: {', '.join(harness.CASES)}",
              file=sys.stderr)
        return 2
    if args.calls < 1:
        print(f"run.py: --calls {args.calls}: expected a number of calls above 0", file=sys.stderr)
        return 2
    proof.CALLS = args.calls
    signal.signal(signal.SIGTERM, on_term)
    title, fn = harness.CASES[args.case]
    h = harness.Harness(args.lib, args.progs, args.build_dir)
    try:
        fn(h)
    except proof.Skip as skip:
        print(f"skipped: {title}: {skip}")
        return 77
    except harness.Failure as failure:
        print(f"FAILED: {title}\n{failure}")
        return 1
    except Exception:
        print(f"FAILED: {title} (error in the test itself)")
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        h.cleanup()
    print(f"passed: {title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
