#!/usr/bin/env python3
"""Whether a `bandwidth` rule (tools/INJECT.md) holds a real program to the
rate asked for: iperf3's client under the library, for SECONDS, against
iperf3's server on 127.0.0.1 (not preloaded), with `output:bandwidth=RATE`
(the client sends) and with `input:bandwidth=RATE` (iperf3 -R: the client
receives). The rate is what iperf3's receiver counted over the whole test,
its median over ROUNDS runs of each direction. Goal (issue 14): within 5% of
the limit over 10 s. Loopback unshaped moves gigabytes a second, so the
figures are the rule's, not the network's. The report (Markdown) goes to stdout."""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be
from bench import machine

GOAL = 0.05


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, server, timeout=10):
    """Until the server listens, asked of the kernel (ss): a probe connection
    would count as iperf3's one test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            be.fail(f"iperf3 -s exited with status {server.returncode} before listening on port {port}")
        listing = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        if listing.strip():
            return
        time.sleep(0.05)
    be.fail(f"iperf3 -s did not listen on 127.0.0.1:{port} within {timeout} s")


def one_run(iperf3, lib, rule, reverse, seconds):
    """The receiver's rate in bytes per second."""
    port = free_port()
    # -1: the server ends after one test.
    server = subprocess.Popen([iperf3, "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, server)
        env = dict(os.environ, LD_PRELOAD=lib, SOCKDIAG_INJECT=rule.format(port=port))
        done = subprocess.run([iperf3, "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"] +
                              (["-R"] if reverse else []), env=env, capture_output=True, text=True,
                              timeout=seconds * 3 + 30)
    finally:
        server.kill()
        server.wait()
    try:
        report = json.loads(done.stdout)
    except ValueError:
        be.fail(f"iperf3 -c printed no JSON report (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    if done.returncode != 0 or "error" in report:
        be.fail(f"iperf3 -c failed (exit {done.returncode}): {report.get('error', done.stderr.strip()[-500:])}")
    received = report["end"]["sum_received"]
    return received["bytes"] / received["seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", metavar="DIR", help="the CMake build directory (gives --lib's default)")
    parser.add_argument("--lib", help="libsockdiag.so (default DIR/shim/libsockdiag.so)")
    parser.add_argument("--rate", type=be.positive(int), default=10_000_000,
                        help="the limit, bytes per second (default 10000000)")
    parser.add_argument("--seconds", type=be.positive(int), default=10, help="length of one test (default 10)")
    parser.add_argument("--rounds", type=be.positive(int), default=3, help="runs per direction (default 3)")
    args = parser.parse_args()
    lib = be.built_paths(args, {"lib": "shim/libsockdiag.so"}, "sockdiag_preload")["lib"]
    iperf3 = shutil.which("iperf3")
    if iperf3 is None:
        be.fail("iperf3 is not installed (apt-get install iperf3)")
    if args.rate % 1000:
        be.fail(f"--rate {args.rate}: give a whole number of kilobytes per second (a multiple of 1000)")

    print(f"## Bandwidth rules under iperf3 ({machine()}, {args.seconds} s per test, {args.rounds} rounds)\n")
    rows, goals = [], []
    for direction, reverse, how in (("output", False, "the client sends"), ("input", True, "the client receives (-R)")):
        rule = f"{direction}:bandwidth={args.rate // 1000}KB/s:port={{port}}"
        rates = []
        for r in range(args.rounds):
            print(f"bandwidth: {rule.format(port='P')} round {r + 1}", file=sys.stderr)
            rates.append(one_run(iperf3, lib, rule, reverse, args.seconds))
        median = statistics.median(rates)
        off = (median - args.rate) / args.rate
        rows.append([f"`{rule.format(port='P')}`", how, f"{args.rate:,}", f"{median:,.0f}", f"{off:+.2%}",
                     f"{min(rates):,.0f}", f"{max(rates):,.0f}"])
        goals.append((f"{direction}: the median rate within {GOAL:.0%} of the limit", abs(off) <= GOAL))
    be.print_table(["rule", "direction", "limit B/s", "median B/s", "off", "min B/s", "max B/s"], rows)
    print("\n### Goals\n")
    for text, met in goals:
        print(f"- {'met' if met else 'NOT met'}: {text}")


if __name__ == "__main__":
    main()
