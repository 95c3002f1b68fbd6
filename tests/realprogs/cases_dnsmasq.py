"""dnsmasq (Debian's dnsmasq-base, no system service) as the test's own DNS
server on a loopback port, queried by dig over UDP and TCP. It answers
test.example itself and forwards other.example to an upstream: a second
dnsmasq of the test, without the library. dnsmasq serves each TCP query in
a forked child, which forwards over TCP, first with a TCP Fast Open
sendto(), then with connect() when that fails. Run as root, dnsmasq would
become nobody, who could not write the case's logs: --user=root keeps it
root, so its records (the child's too) come out. Healthy: no record at the
default level. Upstream on a closed port: the child's sendto and connect
are refused, dig sees the connection end. The same refusal injected
(`connect:error=ECONNREFUSED:port=U`) while the upstream answers on U: the
same answers and log, both records marked. Each also under
`sockdiag run --summary`."""
import re
import socket
import subprocess

from harness import case, expect, expect_eq
from modes import Mode, closed_port, describe, three_runs
from debian_tools import DEBIAN, tool
from summary_runs import expect_marked, expect_records, finish, four_runs, injected_runs, summary_run

DNSMASQ = "/usr/sbin/dnsmasq"
DEBIAN[DNSMASQ] = "dnsmasq-base"
OWN, FORWARDED = "127.0.0.5", "127.0.0.6"


def free_port():
    """A loopback port free for both UDP and TCP when this returns."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind(("127.0.0.1", 0))
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                continue
            return udp.getsockname()[1]


class Dnsmasq:
    """A dnsmasq of the test under `mode`, answering `address`
    (/domain/ip) and forwarding the rest to 127.0.0.1#`upstream`, if
    given; its log (--log-facility=-) comes on its stdout."""

    def __init__(self, h, mode, address, upstream=None):
        self.mode, self.port = mode, free_port()
        argv = [tool(DNSMASQ), f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                "--no-hosts", f"--address={address}", "--keep-in-foreground", "--log-facility=-", "--user=root",
                "--pid-file=", "--conf-file=/dev/null"]
        if upstream:
            argv.append(f"--server=127.0.0.1#{upstream}")
        self.upstream = upstream
        self.proc = mode.start(argv, stderr=subprocess.STDOUT)
        self.head = [h.read_line(self.proc)]
        expect(re.fullmatch(r"dnsmasq\[\d+\]: started, .*\n", self.head[0]), "dnsmasq did not say it started",
               self.head[0])
        self.pid = int(re.match(r"dnsmasq\[(\d+)\]", self.head[0]).group(1))

    def stop(self):
        """Its status and log, the pid and the ports written as names."""
        self.proc.terminate()
        rc, out, _ = finish(self.mode, self.proc, 30)
        log = re.sub(r"dnsmasq\[\d+\]", "dnsmasq[PID]", "".join(self.head) + out)
        if self.upstream:
            log = log.replace(f"127.0.0.1#{self.upstream}", "127.0.0.1#UPSTREAM")
        return rc, log


def dig(mode, server, name, tcp):
    run = mode.run([tool("/usr/bin/dig"), "@127.0.0.1", "-p", server.port, "+tries=1", "+time=10", "+short",
                    "+tcp" if tcp else "+notcp", name], timeout=60)
    return run.rc, run.out.replace(f"#{server.port}", "#PORT"), run.err


class Upstream:
    """The upstream dnsmasq, without the library, answering other.example."""

    def __init__(self, h):
        self.server = Dnsmasq(h, Mode(h, "plain"), f"/other.example/{FORWARDED}")
        self.port = self.server.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.stop()


@case("dnsmasq answering and forwarding UDP and TCP queries from dig")
def dnsmasq_healthy(h):
    pids = {}
    with Upstream(h) as upstream:
        def scenario(mode):
            server = Dnsmasq(h, mode, f"/test.example/{OWN}", upstream.port)
            pids[mode.name] = server.pid
            # A name forwarded once would come from dnsmasq's cache the
            # next time: one name forwarded over UDP, another over TCP.
            answers = [dig(mode, server, name, tcp) for name, tcp in
                       (("test.example", False), ("test.example", True), ("udp.other.example", False),
                        ("tcp.other.example", True))]
            return answers, server.stop()

        calls = (("dnsmasq", "accept"), ("dnsmasq", "recvmsg"), ("dnsmasq", "sendto"), ("dig", "connect"))
        runs = three_runs(h, scenario, calls)
        answers, (rc, log) = runs["plain"][0]
        expect_eq(answers, [(0, f"{OWN}\n", "")] * 2 + [(0, f"{FORWARDED}\n", "")] * 2,
                  "dig's answers, without the library")
        expect_eq(rc, 0, "dnsmasq's exit status after SIGTERM")
        expect("using nameserver 127.0.0.1#UPSTREAM" in log, "dnsmasq did not take the upstream", log)
        # The TCP queries' forked children record too.
        children = {r["pid"] for r in runs["trace"][1] if r["prog"] == "dnsmasq" and r["pid"] != pids["trace"]}
        expect_eq(len(children), 2, "dnsmasq children with trace records (one per TCP query)",
                  describe(runs["trace"][1], 60))
        summary_run(h, scenario, runs["plain"][0], healthy=True)


def forwarded_over_tcp(h, mode, upstream):
    server = Dnsmasq(h, mode, f"/test.example/{OWN}", upstream)
    answer = dig(mode, server, "tcp.other.example", True)
    return answer, server.stop()


REFUSED_ANSWER = (9, ";; communications error to 127.0.0.1#PORT: end of file\n;; no servers could be reached\n", "")


@case("dnsmasq forwarding over TCP refused by its upstream")
def dnsmasq_refused(h):
    with closed_port() as upstream:
        def scenario(mode):
            return forwarded_over_tcp(h, mode, upstream)

        runs = four_runs(h, scenario, [("dnsmasq", "connect")], healthy=False)
    expect_eq(runs["plain"][0][0], REFUSED_ANSWER, "dig's status and output, without the library")
    # The TCP Fast Open send, then the connect.
    expect_records(runs, [("dnsmasq", call, "ECONNREFUSED", f"127.0.0.1:{upstream}", "error", False)
                          for call in ("sendto", "connect")], ("prog", "call", "code", "peer", "level", "injected"))
    records = runs["default"][1]
    expect_eq(len({r["pid"] for r in records}), 1, "processes recording the refusals (the TCP query's child)",
              describe(records))


@case("dnsmasq forwarding over TCP refused by an injected fault")
def dnsmasq_injected(h):
    plain = Mode(h, "plain")
    with closed_port() as closed:
        reference = forwarded_over_tcp(h, plain, closed)
    expect_eq(reference[0], REFUSED_ANSWER, "dig's status and output for a real refusal, without the library")
    with Upstream(h) as upstream:
        answered = forwarded_over_tcp(h, plain, upstream.port)
        expect_eq(answered[0], (0, f"{FORWARDED}\n", ""), "dig's answer through the upstream, without the library")
        rule = f"connect:error=ECONNREFUSED:port={upstream.port}"
        faults = injected_runs(h, lambda mode: forwarded_over_tcp(h, mode, upstream.port), [rule], reference)
    peer = f"127.0.0.1:{upstream.port}"
    expect_marked(h, faults, rule, [("dnsmasq", call, "ECONNREFUSED", peer, "") for call in ("sendto", "connect")],
                  2)
