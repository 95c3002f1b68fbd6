#!/usr/bin/env python3
"""Runs one fault-injection test case of libsockdiag, or lists them.

  run_inject.py --list                          one "ID<TAB>TITLE" line per case
  run_inject.py --lib L --progs D --source S [--sockdiag CMD] CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 77 when the case cannot run
on this machine (skipped), 2 on wrong usage.
"""
import sys

import inject_harness as harness
from sdtest import driver_parser, list_or_run  # on sys.path through the harness
import cases_connect  # noqa: F401  (the modules register their cases)
import cases_streams  # noqa: F401
import cases_dns  # noqa: F401
import cases_filters  # noqa: F401
import cases_counting  # noqa: F401
import cases_reproducible  # noqa: F401
import cases_records  # noqa: F401
import cases_jitter  # noqa: F401
import cases_close  # noqa: F401
import cases_real_programs  # noqa: F401
import cases_bad_input  # noqa: F401
import cases_sockets_only  # noqa: F401
import cases_aftermath  # noqa: F401
import cases_hold  # noqa: F401
import cases_compose  # noqa: F401
import cases_replay  # noqa: F401
import cases_datagrams  # noqa: F401
import cases_stall  # noqa: F401


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--source", help="the source tree (for the corpus of bad rules)")
    parser.add_argument("--sockdiag", help="the sockdiag command (for the cases of `sockdiag run`)")
    args = parser.parse_args()
    return list_or_run(parser, args, harness.CASES, ("lib", "progs", "source"),
                       lambda a: harness.Harness(a.lib, a.progs, a.source, a.sockdiag))


if __name__ == "__main__":
    sys.exit(main())
