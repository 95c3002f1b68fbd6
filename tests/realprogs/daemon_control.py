"""Starting and stopping the server programs of the cases: a free loopback
port, the wait until a port listens (seen in /proc, without a probe
connection that the server would see) or a log says the server is ready, the stop by a signal with a bounded
wait, the processes of a tree and the user they run as."""
import os
import pwd
import signal
import socket
import subprocess
import time

from harness import Failure, expect


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Some socket listens on TCP port `port` (IPv4 or IPv6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_listening(proc, port, what, timeout=60, detail=None):
    deadline = time.monotonic() + timeout
    while not listening(port):
        if proc.poll() is not None:
            raise Failure(f"{what} ended with status {proc.returncode} before it listened on port {port}"
                          + ("" if detail is None else f"\n--- detail ---\n{detail()}"))
        expect(time.monotonic() < deadline, f"{what} did not listen on port {port} within {timeout} s",
               None if detail is None else detail())
        time.sleep(0.05)


def wait_text(read, proc, text, what, timeout=60):
    """Waits until `text` is in what `read()` returns (a log)."""
    deadline = time.monotonic() + timeout
    while text not in read():
        expect(proc.poll() is None, f"{what} ended with status {proc.returncode} before saying {text!r}", read())
        expect(time.monotonic() < deadline, f"{what} did not say {text!r} within {timeout} s", read())
        time.sleep(0.05)


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Sends `sig` to `proc` (under `sockdiag run`, which passes it on) and
    returns its exit status."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{proc.args} did not end within {timeout} s of signal {sig}")


def wait_file(path, proc, what, timeout=60):
    """The text of `path`, once it exists and is not empty."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text.strip():
                return text
        except FileNotFoundError:
            pass
        expect(proc.poll() is None, f"{what} ended with status {proc.returncode} before writing {path}")
        expect(time.monotonic() < deadline, f"{what} did not write {path} within {timeout} s")
        time.sleep(0.05)


def children(pid):
    """The pids of the processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # The name (field 2) is in parentheses and may hold blanks.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def runs_as(pid, user, timeout=30):
    """Whether process `pid` runs as `user` within `timeout` s (a server
    started as root drops to its user once it has bound its ports)."""
    uid = pwd.getpwnam(user).pw_uid
    deadline = time.monotonic() + timeout
    while real_uid(pid) != uid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def real_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise Failure(f"no Uid line for process {pid}")
