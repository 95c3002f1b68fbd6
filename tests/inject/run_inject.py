#!/usr/bin/env python3
"""Runs one fault-injection test case of libsockdiag, or lists them.

  run_inject.py --list                          one "ID<TAB>TITLE" line per case
  run_inject.py --lib L --progs D --source S CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 77 when the case cannot run
on this machine (skipped), 2 on wrong usage.
"""
import argparse
import signal
import sys
import traceback

import inject_harness as harness
import cases_connect  # noqa: F401  (the modules register their cases)
import cases_streams  # noqa: F401
import cases_dns  # noqa: F401
import cases_filters  # noqa: F401
import cases_counting  # noqa: F401
import cases_reproducible  # noqa: F401
import cases_records  # noqa: F401
import cases_real_programs  # noqa: F401
import cases_bad_input  # noqa: F401


def on_term(signum, frame):
    # `timeout` sends SIGTERM: unwind so that the case's processes are killed.
    raise SystemExit(f"stopped by signal {signum} (time limit?)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--source", help="the source tree (for the corpus of bad rules)")
    parser.add_argument("case", nargs="?")
    args = parser.parse_args()
    if args.list:
        for ident, (title, _) in harness.CASES.items():
            print(f"{ident}\t{title}")
        return 0
    if not (args.lib and args.progs and args.source and args.case):
        parser.print_usage(sys.stderr)
        return 2
    if args.case not in harness.CASES:
        print(f"run_inject.py: no case '{args.case}'; accepted: {', '.join(harness.CASES)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_term)
    title, fn = harness.CASES[args.case]
    h = harness.Harness(args.lib, args.progs, args.source)
    try:
        fn(h)
    except harness.Skipped as why:
        print(f"skipped: {title}: {why}")
        return harness.SKIP
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
