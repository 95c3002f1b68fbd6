"""OpenSSH's server under the library: its pre-authentication child runs
under a seccomp filter that allows write() on the socket and kills the
process on a call it does not allow (sendto among them). sshd is the test's
own instance on a loopback port, with a host key, a user key and a
configuration the test makes; a login runs a command, the same login to a
closed port is refused, and a client that resets the connection during the
identification exchange is recorded by the sshd process that is not
sandboxed (the exchange happens before the sandboxed child exists)."""
import os
import re
import socket
import struct
import subprocess
import time

from harness import Skipped, case, expect, expect_eq
from modes import closed_port, describe, three_runs
from debian_tools import tool

SSHD = "/usr/sbin/sshd"
STANDS_DOWN = re.compile(r"^sockdiag: pid \d+ installs a seccomp filter: sockdiag stands down in this process$")


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_keys(h):
    keygen = tool("/usr/bin/ssh-keygen")
    for name in ("hostkey", "userkey"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", h.path(name)], check=True,
                       capture_output=True, timeout=30)
    with open(h.path("userkey.pub")) as src, open(h.path("authorized_keys"), "w") as dst:
        dst.write(src.read())
    with open(h.path("sshd_config"), "w") as f:
        f.write(f"UsePAM no\nStrictModes no\nPidFile {h.path('sshd.pid')}\n"
                f"AuthorizedKeysFile {h.path('authorized_keys')}\nPermitRootLogin prohibit-password\n")


class Sshd:
    """An sshd of the test under `mode`; its log (-e) comes on its stdout."""

    def __init__(self, h, mode, port):
        self.h = h
        self.proc = mode.start([SSHD, "-D", "-e", "-f", h.path("sshd_config"), "-h", h.path("hostkey"),
                                "-p", port, "-o", "ListenAddress=127.0.0.1"], stderr=subprocess.STDOUT)
        self.lines = []
        self.wait_for("Server listening on 127.0.0.1")

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            expect(time.monotonic() < deadline, f"sshd did not say {text!r} within {timeout} s", "\n".join(self.lines))
            self.lines.append(self.h.read_line(self.proc, max(deadline - time.monotonic(), 0.1)).rstrip("\n"))

    def stop(self):
        self.proc.terminate()
        rest, _ = self.proc.communicate(timeout=20)
        self.lines.extend(rest.decode(errors="replace").splitlines())
        return self.lines


def ssh_argv(h, port, command):
    return [tool("/usr/bin/ssh"), "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20",
            "-i", h.path("userkey"), "-p", port, "root@127.0.0.1", command]


def reset_during_identification(port):
    """Connects, reads sshd's identification line, and resets (RST) instead
    of sending its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        banner = b""
        while not banner.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            banner += chunk
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return banner.startswith(b"SSH-2.0-")


@case("sshd login, refused login and reset handshake")
def sshd_login(h):
    tool(SSHD)
    if os.geteuid() != 0:
        raise Skipped("sshd's privilege separation needs root")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege separation directory
    make_keys(h)
    logs = {}

    def scenario(mode):
        port = free_tcp_port()
        sshd = Sshd(h, mode, port)
        try:
            login = mode.run(ssh_argv(h, port, "echo ok"), timeout=60)
            with closed_port() as closed:
                refused = mode.run(ssh_argv(h, closed, "echo ok"), timeout=60)
                refused_err = refused.err.replace(str(closed), "PORT")
            banner = reset_during_identification(port)
            sshd.wait_for("Connection reset by peer")
        finally:
            logs[mode.name] = sshd.stop()
        return login.rc, login.out, refused.rc, refused_err, banner

    runs = three_runs(h, scenario, [("sshd", "accept"), ("ssh", "connect"), ("sshd", "read"), ("sshd", "write")],
                      healthy=False)
    expect_eq(runs["plain"][0], (0, "ok\n", 255, "ssh: connect to host 127.0.0.1 port PORT: Connection refused\r\n",
                                 True), "the login's status and output, the refused login's, the banner read")
    for name in ("default", "trace"):
        # One sandboxed child per login (the reset connection never reaches one).
        said = [line for line in logs[name] if line.startswith("sockdiag:")]
        expect(len(said) == 1 and STANDS_DOWN.match(said[0]),
               f"not one line saying the sandboxed child stands down ({name})", "\n".join(logs[name]))
    records = runs["default"][1]
    refused = [r for r in records if r["prog"] == "ssh" and r["call"] == "connect" and r["code"] == "ECONNREFUSED"]
    expect_eq(len(refused), 1, "the refused login's connect records", describe(records))
    reset = [r for r in records if r["prog"] == "sshd" and r["code"] == "ECONNRESET" and r["level"] == "error"]
    expect_eq(len(reset), 1, "records of the reset in sshd", describe(records))
    expect(reset[0]["call"] in ("read", "recv", "recvfrom"), "the reset is not recorded on a read",
           describe(records))
    # The re-executed sshd got its socket through exec: the record knows it
    # for a TCP socket on which sshd sent its identification line.
    expect(reset[0]["kind"] == "tcp4" and reset[0].get("bytes_sent", 0) > 0,
           "the reset's record does not show a TCP socket that sent sshd's identification", describe(records))
    others = [r for r in records if r not in refused and r not in reset]
    expect_eq(others, [], "other records at the default level (the login is healthy)", describe(others))
