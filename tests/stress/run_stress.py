#!/usr/bin/env python3
"""Runs one load-and-fault test case of libsockdiag, or lists them.

  run_stress.py --list                                    one "ID<TAB>TITLE" line per case
  run_stress.py --lib L --progs D --build-dir B [--calls N] CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 77 when the case cannot
run on this machine (the reason is printed), 2 on wrong usage.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
from sdtest import driver_parser, list_or_run  # noqa: E402
import cases_load  # noqa: E402,F401  (the modules register their cases)
import cases_fds_limits  # noqa: E402,F401
import cases_secure  # noqa: E402,F401
import cases_address_space  # noqa: E402,F401

# Calls per thread in the thread load.
DEFAULT_CALLS = 100000


def make_harness(args):
    h = harness.Harness(args.lib, args.progs, args.build_dir)
    h.calls = args.calls
    return h


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--build-dir")
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    args = parser.parse_args()
    if not args.list and args.calls < 1:
        print(f"run_stress.py: --calls {args.calls}: expected a number of calls above 0", file=sys.stderr)
        return 2
    return list_or_run(parser, args, harness.CASES, ("lib", "progs", "build_dir"), make_harness)


if __name__ == "__main__":
    sys.exit(main())
