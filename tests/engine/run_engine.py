#!/usr/bin/env python3
"""Runs one test case of the strace engine, or lists them.

  run_engine.py --list                       one "ID<TAB>TITLE" line per case
  run_engine.py --lib L --progs D --build-dir B --sockdiag S
                --static-progs D2 --go-progs D3 CASE_ID

--progs: the dynamic scenario programs (../progs), --static-progs: their
static builds and fd_exit, --go-progs: the Go client and server. Exit
status 0 when every check of the case held, 1 when one failed, 77 when it
cannot run here (no strace, no ptrace, no go), 2 on wrong usage.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import cases_exit  # noqa: E402,F401  (the modules register their cases)
import cases_go  # noqa: E402,F401
import cases_static  # noqa: E402,F401
from engine_harness import EngineHarness  # noqa: E402
from sdtest import CASES, driver_parser, list_or_run  # noqa: E402

OPTIONS = ("lib", "progs", "build_dir", "sockdiag", "static_progs", "go_progs")


def main():
    parser = driver_parser(__doc__)
    for option in OPTIONS:
        parser.add_argument("--" + option.replace("_", "-"))
    args = parser.parse_args()
    return list_or_run(parser, args, CASES, OPTIONS,
                       lambda a: EngineHarness(a.lib, a.progs, a.build_dir, a.sockdiag, a.static_progs,
                                               a.go_progs))


if __name__ == "__main__":
    sys.exit(main())
