#!/usr/bin/env python3
"""Runs one integration test case of libsockdiag, or lists them.

  run_case.py --list                       one "ID<TAB>TITLE" line per case
  run_case.py --lib L --progs D --build-dir B CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 2 on wrong usage.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
import cases_behaviour  # noqa: E402,F401  (the modules register their cases)
import cases_bind  # noqa: E402,F401
import cases_concurrency  # noqa: E402,F401
import cases_config  # noqa: E402,F401
import cases_connect  # noqa: E402,F401
import cases_destinations  # noqa: E402,F401
import cases_fastopen  # noqa: E402,F401
import cases_fds  # noqa: E402,F401
import cases_inherited  # noqa: E402,F401
import cases_libc_fds  # noqa: E402,F401
import cases_local_address  # noqa: E402,F401
import cases_hostile_values  # noqa: E402,F401
import cases_log_sink  # noqa: E402,F401
import cases_records  # noqa: E402,F401
import cases_resolve  # noqa: E402,F401
import cases_streams  # noqa: E402,F401
import cases_syscall  # noqa: E402,F401


if __name__ == "__main__":
    sys.exit(harness.run_driver(__doc__))
