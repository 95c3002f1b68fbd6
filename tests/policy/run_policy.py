#!/usr/bin/env python3
"""Runs one test case of the retry and SIGPIPE policies of libsockdiag, or
lists them.

  run_policy.py --list                                one "ID<TAB>TITLE" line per case
  run_policy.py --lib libsockdiag.so --stub libtest_stub_econnaborted.so --bin DIR CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (what
was expected and what happened are printed), 77 when the case cannot run
on this machine (a tool it needs, strace, cannot run here), 2 on wrong
usage.
"""
import sys

import policy_harness as harness
from sdtest import driver_parser, list_or_run  # on sys.path through the harness
import cases_eintr  # noqa: F401  (the modules register their cases)
import cases_eagain  # noqa: F401
import cases_econnaborted  # noqa: F401
import cases_sigpipe  # noqa: F401
import cases_settings  # noqa: F401


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib", help="libsockdiag.so")
    parser.add_argument("--stub", help="libtest_stub_econnaborted.so")
    parser.add_argument("--bin", help="the directory of the test programs")
    args = parser.parse_args()
    return list_or_run(parser, args, harness.CASES, ("lib", "stub", "bin"),
                       lambda a: harness.Harness(a.lib, a.stub, a.bin))


if __name__ == "__main__":
    sys.exit(main())
