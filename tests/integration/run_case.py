#!/usr/bin/env python3
"""Runs one integration test case of libsockdiag, or lists them.

  run_case.py --list                       one "ID<TAB>TITLE" line per case
  run_case.py --lib L --progs D --build-dir B CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 2 on wrong usage.
"""
import sys

import harness
from sdtest import driver_parser, list_or_run  # on sys.path through the harness
import cases_behaviour  # noqa: F401  (the modules register their cases)
import cases_bind  # noqa: F401
import cases_concurrency  # noqa: F401
import cases_config  # noqa: F401
import cases_connect  # noqa: F401
import cases_destinations  # noqa: F401
import cases_fastopen  # noqa: F401
import cases_fds  # noqa: F401
import cases_inherited  # noqa: F401
import cases_libc_fds  # noqa: F401
import cases_local_address  # noqa: F401
import cases_hostile_values  # noqa: F401
import cases_log_sink  # noqa: F401
import cases_real_programs  # noqa: F401
import cases_records  # noqa: F401
import cases_resolve  # noqa: F401
import cases_streams  # noqa: F401
import cases_syscall  # noqa: F401


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--build-dir")
    args = parser.parse_args()
    return list_or_run(parser, args, harness.CASES, ("lib", "progs", "build_dir"),
                       lambda a: harness.Harness(a.lib, a.progs, a.build_dir))


if __name__ == "__main__":
    sys.exit(main())
