"""iperf3 under the library: the test's own server (-s -1: one test, then
it exits) on 127.0.0.1 and a free port, and a client sending 8 MiB over
one stream (a control connection and a data connection), its report in
JSON. The client to a closed port is refused (the real failure); the same
refusal injected on the client's first connect to the live server prints
the same error and is marked injected with its rule."""
import json
import signal

from harness import case, expect, expect_eq
from modes import closed_port, describe
from debian_tools import tool
from summary_runs import default_runs, expect_marked, expect_records, four_runs, injected_runs
from daemon_control import free_port, stop, wait_listening

IPERF3 = "/usr/bin/iperf3"
BYTES = 8 * 1024 * 1024


class Server:
    def __init__(self, h, mode, port, once=True):
        self.port = port
        self.err = mode.err_file(f"iperf3-{mode.name}")
        self.proc = mode.start([tool(IPERF3), "-s", "-B", "127.0.0.1", "-p", port] + (["-1"] if once else []),
                               stderr=self.err)
        wait_listening(self.proc, port, "iperf3 -s", detail=lambda: mode.read_err(self.err))


def send(mode, port, report=True):
    """The client's status and output; with `report`, a JSON report (then
    its status is 0 even when it failed)."""
    run = mode.run([tool(IPERF3), "-c", "127.0.0.1", "-p", port, "-n", BYTES] + (["-J"] if report else []),
                   timeout=60)
    return run.rc, run.out, run.err


@case("iperf3 client and server over loopback")
def iperf3_healthy(h):
    def scenario(mode):
        server = Server(h, mode, free_port())
        rc, out, err = send(mode, server.port)
        try:
            status = server.proc.wait(timeout=30)  # -1: it ends after the test
        finally:
            server.proc.kill()
        report = json.loads(out)
        end = report.get("end", {})
        # What the receiver counted by the end of the test varies from run to run.
        received = end.get("sum_received", {}).get("bytes", 0)
        return (rc, err, report.get("error"), end.get("sum_sent", {}).get("bytes"), 0 < received <= BYTES, status,
                mode.read_err(server.err))

    runs = four_runs(h, scenario, [("iperf3", "connect"), ("iperf3", ("accept", "accept4")),
                                   ("iperf3", ("write", "send")), ("iperf3", ("read", "recv"))], healthy=False)
    expect_eq(runs["plain"][0], (0, "", None, BYTES, True, 0, ""),
              "the client's status, stderr, error, bytes sent, some received; the server's status and stderr")
    # iperf3 3.12's server closes its data socket twice at the end of a test
    # (strace without the library: close(5) = 0, then close(5) = -1 EBADF):
    # a real double close, the one record of the run.
    for name in default_runs(runs):
        records = runs[name][1]
        expect_eq([(r["prog"], r["call"], r["code"], r["kind"]) for r in records], [("iperf3", "close", "EBADF", "")],
                  f"records at the default level ({name}): the server's double close", describe(records))
        expect("double close" in records[0]["explanation"], "the record does not say it is a double close",
               describe(records))


@case("iperf3 client refused by a closed port, then the refusal injected")
def iperf3_refused(h):
    with closed_port() as closed:
        def scenario(mode):
            return send(mode, closed, report=False)

        runs = four_runs(h, scenario, [("iperf3", "connect")], healthy=False)
    expect_eq(runs["plain"][0], (1, "", "iperf3: error - unable to connect to server: Connection refused\n"),
              "iperf3's status and output")
    expect_records(runs, [("iperf3", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    port = free_port()
    # The server makes no connect: the rule meets the client's only.
    rule = f"connect:error=ECONNREFUSED:port={port}"

    def injected(mode):
        server = Server(h, mode, port, once=False)
        try:
            got = send(mode, port, report=False)
        finally:
            stop(server.proc, signal.SIGTERM)
        return got

    faults = injected_runs(h, injected, [rule], runs["plain"][0], "iperf3")
    expect_marked(h, faults, rule, [("iperf3", "connect", "ECONNREFUSED", f"127.0.0.1:{port}", "")], 1)


# A bandwidth rule's limit, and the test's length: long enough for iperf3's
# own rate to settle, short for the suite.
LIMIT = 4_000_000
SECONDS = 2


@case("iperf3 under a bandwidth rule in each direction never goes faster than the limit")
def iperf3_bandwidth(h):
    # Unshaped, loopback moves gigabytes a second; the rule must hold the
    # receiver's count to the limit. Only the upper bound is asserted: a busy
    # machine may move less, never more.
    for direction, reverse in (("output", False), ("input", True)):
        port = free_port()
        server = h.start([tool(IPERF3), "-s", "-1", "-B", "127.0.0.1", "-p", port], preload=False)
        wait_listening(server, port, "iperf3 -s")
        rule = f"{direction}:bandwidth={LIMIT // 1000}KB/s:port={port}"
        try:
            run = h.run([tool(IPERF3), "-c", "127.0.0.1", "-p", port, "-t", SECONDS, "-J"] + (["-R"] if reverse else []),
                        settings={"INJECT": rule}, timeout=60)
            server.wait(timeout=30)
        finally:
            server.kill()
        report = json.loads(run.out)
        expect_eq((run.rc, report.get("error")), (0, None), f"iperf3's status and error under {rule}", run.err)
        received = report["end"]["sum_received"]
        rate = received["bytes"] / received["seconds"]
        expect(0 < rate <= LIMIT * 1.05,
               f"under {rule} the receiver counted {rate:.0f} bytes/s, more than the limit {LIMIT} (+5%) or none",
               json.dumps(report["end"])[:2000])
