#!/usr/bin/env python3
"""Runs one test case of `sockdiag report --html`, or lists them.

  run_report.py --list                         one "ID<TAB>TITLE" line per case
  run_report.py --sockdiag S --sockops P CASE_ID

--sockops: the scripted client of the injection tests (../inject/sockops.c).
Exit status 0 when every check of the case held, 1 when one failed, 77 when
it cannot run here (no chromium, no strace), 2 on wrong usage.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import cases_html  # noqa: E402,F401  (the module registers its cases)
from page_harness import PageHarness  # noqa: E402
from sdtest import CASES, driver_parser, list_or_run  # noqa: E402

OPTIONS = ("sockdiag", "sockops")


def main():
    parser = driver_parser(__doc__)
    for option in OPTIONS:
        parser.add_argument("--" + option)
    args = parser.parse_args()
    return list_or_run(parser, args, CASES, OPTIONS, lambda a: PageHarness(a.sockdiag, a.sockops))


if __name__ == "__main__":
    sys.exit(main())
