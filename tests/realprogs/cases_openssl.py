"""OpenSSL's s_server and s_client (Debian's openssl) on loopback: TLS 1.3
with a self-signed certificate made for the case, s_server in -rev mode
(each line comes back reversed), s_client fed line by line through a pipe
and closed once every answer has come. Healthy: no record at the default
level. s_client reset by its s_server, killed with a line unread (the
kernel then answers with an RST). s_client refused by a closed port, and
by an injected fault
(`connect:error=ECONNREFUSED:port=P`) while s_server listens on P: the same
status and messages, the record marked with its rule. Each also under
`sockdiag run --summary`."""
import os
import re
import signal
import subprocess
import time

from harness import case, expect, expect_eq
from modes import Mode, closed_port, describe, three_runs
from debian_tools import DEBIAN, tool
from summary_runs import expect_marked, expect_records, finish, four_runs, injected_runs, summary_run

DEBIAN["/usr/bin/openssl"] = "openssl"
LINES = 50


def openssl():
    return tool("/usr/bin/openssl")


def certificate(h):
    """A self-signed P-256 certificate and its key, made without the library."""
    cert, key = h.path("cert.pem"), h.path("key.pem")
    subprocess.run([openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=localhost", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60, env=h.env(preload=False))
    return cert, key


class Server:
    """s_server under `mode` for one connection (-naccept 1); the port is
    read from its "ACCEPT 127.0.0.1:PORT" line."""

    def __init__(self, h, mode, cert, key):
        self.mode = mode
        self.proc = mode.start([openssl(), "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
                                "-naccept", "1", "-rev"])
        self.head = []
        while not (match := re.fullmatch(r"ACCEPT 127\.0\.0\.1:(\d+)\n", line := h.read_line(self.proc))):
            self.head.append(line)
        self.port = int(match.group(1))

    def finish(self):
        rc, out, err = finish(self.mode, self.proc, 60)
        return rc, "".join(self.head) + out, err


def thread_ids(text):
    """OpenSSL starts each error line with the thread's id in hex."""
    return re.sub(r"(?m)^[0-9A-F]+:error:", "TID:error:", text)


@case("openssl s_server and s_client TLS exchange")
def openssl_healthy(h):
    cert, key = certificate(h)

    def scenario(mode):
        server = Server(h, mode, cert, key)
        client = mode.popen([openssl(), "s_client", "-connect", f"127.0.0.1:{server.port}", "-brief"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        good = 0
        for i in range(LINES):
            line = f"line {i} {'abcdefghij' * (i % 10)}"
            client.stdin.write(f"{line}\n".encode())
            client.stdin.flush()
            good += h.read_line(client, 30) == line[::-1] + "\n"
        # finish() closes s_client's stdin: it says DONE, closes the TLS
        # session and exits; s_server then ends (-naccept 1).
        return finish(mode, client, 60), good, server.finish()

    calls = ("socket", "connect", "accept", "read", "write")
    runs = three_runs(h, scenario, [("openssl", call) for call in calls])
    (rc, out, err), good, server = runs["plain"][0]
    expect_eq((rc, out, good, server[0]), (0, "", LINES, 0),
              "s_client's status, output after the answers, lines answered, and s_server's status")
    expect("CONNECTION ESTABLISHED\nProtocol version: TLSv1.3\n" in err and err.endswith("DONE\n"),
           "s_client did not say it made a TLS 1.3 connection and closed it", err)
    expect("1 server accepts that finished" in server[1], "s_server did not finish one accept", server[1])
    summary_run(h, scenario, runs["plain"][0], healthy=True)


@case("openssl s_client reset by its killed s_server")
def openssl_reset(h):
    cert, key = certificate(h)
    peers = {}

    def scenario(mode):
        # s_server runs without the library: the failure is the client's.
        server = Server(h, Mode(h, "plain"), cert, key)
        peers[mode.name] = f"127.0.0.1:{server.port}"
        client = mode.popen([openssl(), "s_client", "-connect", f"127.0.0.1:{server.port}", "-brief"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        client.stdin.write(b"first line\n")
        client.stdin.flush()
        answered = h.read_line(client, 30)
        # Stopped, s_server leaves the next line unread in its socket; killed,
        # its socket is closed with unread data: the kernel sends an RST.
        os.kill(server.proc.pid, signal.SIGSTOP)
        client.stdin.write(b"second line\n")
        client.stdin.flush()
        deadline = time.monotonic() + 30
        while not unread_bytes(server.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=30)
        return answered, finish(mode, client, 60)

    runs = three_runs(h, scenario, [("openssl", "read")], healthy=False)
    answered, (rc, out, err) = runs["plain"][0]
    expect_eq((answered, rc, out), ("enil tsrif\n", 104, ""),
              "s_client's answer, status (ECONNRESET) and output after it, without the library")
    expect(err.endswith("CONNECTION CLOSED BY SERVER\n"), "s_client did not say the server closed", err)
    records = runs["default"][1]
    expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["level"], r["injected"]) for r in records],
              [("openssl", "read", "ECONNRESET", peers["default"], "error", False),
               ("openssl", "write", "EPIPE", peers["default"], "error", False)],
              "records at the default level (the reset, then s_client's close_notify)", describe(records))
    summary_run(h, scenario, runs["plain"][0])


def unread_bytes(pid):
    """Bytes waiting in the receive queues of the TCP sockets of process
    `pid` (from /proc/PID/net/tcp's rx_queue)."""
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        return sum(int(row.split()[4].split(":")[1], 16) for row in f if row.split()[9] in inodes)


def refusal(mode, port):
    run = mode.run([openssl(), "s_client", "-connect", f"127.0.0.1:{port}", "-brief"], timeout=60)
    return run.rc, run.out, thread_ids(run.err).replace(str(port), "PORT")


REFUSED = ("TID:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:117:"
           "calling connect()\nTID:error:10000067:BIO routines:BIO_connect:connect error:../crypto/bio/bio_sock2.c:"
           "119:\nconnect:errno=111\n")


@case("openssl s_client refused by a closed port")
def openssl_refused(h):
    with closed_port() as port:
        def scenario(mode):
            return refusal(mode, port)

        runs = four_runs(h, scenario, [("openssl", "connect")], healthy=False)
    expect_eq(runs["plain"][0], (1, "", REFUSED), "s_client's status and output, without the library")
    expect_records(runs, [("openssl", "connect", "ECONNREFUSED", f"127.0.0.1:{port}", "error", "", False)],
                   ("prog", "call", "code", "peer", "level", "via", "injected"))


@case("openssl s_client refused by an injected fault")
def openssl_injected(h):
    cert, key = certificate(h)
    plain = Mode(h, "plain")
    with closed_port() as port:
        reference = refusal(plain, port)
    expect_eq(reference, (1, "", REFUSED), "s_client's status and output for a real refusal, without the library")
    server = Server(h, plain, cert, key)  # without the library: the fault is the client's
    rule = f"connect:error=ECONNREFUSED:port={server.port}"
    faults = injected_runs(h, lambda mode: refusal(mode, server.port), [rule], reference)
    expect_marked(h, faults, rule, [("openssl", "connect", "ECONNREFUSED", f"127.0.0.1:{server.port}", "")], 1)
    server.proc.terminate()
    _, out, _ = server.finish()
    expect("CONNECTION" not in out, "a connection reached s_server through the injected refusal", out)
