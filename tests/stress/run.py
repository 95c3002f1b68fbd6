#!/usr/bin/env python3
"""Runs one case of libsockdiag's real-program tests (tests/realprogs) or
load-and-fault tests (tests/stress), or lists a suite's cases.

  run.py --suite realprogs|stress --list      one "ID<TAB>TITLE" line per case
  run.py --suite S --lib L --progs D --build-dir B [--calls N] CASE_ID

Exit status 0 when every check of the case held, 1 when one failed (the
failure and what the programs did are printed), 77 when the case cannot
run on this machine (the reason is printed), 2 on wrong usage.
"""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
# The integration tests' harness runs the processes and reads the records.
sys.path[:0] = [os.path.join(TESTS, "integration"), HERE, os.path.join(TESTS, "realprogs")]

import harness  # noqa: E402
import proof  # noqa: E402
from sdtest import driver_parser, list_or_run  # noqa: E402  (on sys.path through the harness)

SUITES = {
    "realprogs": ["cases_http_clients", "cases_python_sockets", "cases_node", "cases_java", "cases_tools", "cases_sshd",
                  "cases_nginx", "cases_postgres", "cases_memcached", "cases_iperf3", "cases_mosquitto",
                  "cases_lighttpd", "cases_ruby", "cases_perl", "cases_php", "cases_aiohttp",
                  "cases_openssl", "cases_dnsmasq"],
    "stress": ["cases_load", "cases_fds_limits", "cases_secure", "cases_address_space"],
}


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--suite", required=True, choices=sorted(SUITES))
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--build-dir")
    parser.add_argument("--calls", type=int, default=proof.DEFAULT_CALLS)
    args = parser.parse_args()
    for module in SUITES[args.suite]:
        importlib.import_module(module)  # registers its cases
    if not args.list and args.calls < 1:
        print(f"run.py: --calls {args.calls}: expected a number of calls above 0", file=sys.stderr)
        return 2
    proof.CALLS = args.calls
    return list_or_run(parser, args, harness.CASES, ("lib", "progs", "build_dir"),
                       lambda a: harness.Harness(a.lib, a.progs, a.build_dir), where=f" in suite {args.suite}")


if __name__ == "__main__":
    sys.exit(main())
