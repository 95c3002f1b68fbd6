#!/usr/bin/env python3
"""Runs one real-program test case of libsockdiag, or lists them.

  run_realprogs.py --list                          one "ID<TAB>TITLE" line per case
  run_realprogs.py --lib L --progs D --build-dir B CASE_ID

D is this directory (the scripts the cases run). Exit status 0 when every
check of the case held, 1 when one failed (the failure and what the
programs did are printed), 77 when the case cannot run on this machine (the
reason is printed), 2 on wrong usage.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import harness  # noqa: E402
import cases_http_clients  # noqa: E402,F401  (the modules register their cases)
import cases_python_sockets  # noqa: E402,F401
import cases_node  # noqa: E402,F401
import cases_java  # noqa: E402,F401
import cases_tools  # noqa: E402,F401
import cases_sshd  # noqa: E402,F401
import cases_nginx  # noqa: E402,F401
import cases_postgres  # noqa: E402,F401
import cases_memcached  # noqa: E402,F401
import cases_iperf3  # noqa: E402,F401
import cases_mosquitto  # noqa: E402,F401
import cases_lighttpd  # noqa: E402,F401
import cases_ruby  # noqa: E402,F401
import cases_perl  # noqa: E402,F401
import cases_php  # noqa: E402,F401
import cases_aiohttp  # noqa: E402,F401
import cases_openssl  # noqa: E402,F401
import cases_dnsmasq  # noqa: E402,F401


if __name__ == "__main__":
    sys.exit(harness.run_driver(__doc__))
