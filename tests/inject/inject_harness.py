"""Running programs under libsockdiag with fault-injection rules, and the
loopback peers they talk to.

Every program runs in a process group of its own (killed when its case ends).
Its records go to a log file of their own in JSON (SOCKDIAG_LOG), its exit
summary to another (SOCKDIAG_SUMMARY=/abs/path). The peers live in the driver,
which is not under the library: what they see is what the network delivered.
"""
import contextlib
import errno
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
# Failure, Skipped, case and read_text are also the case modules' own.
from sdtest import (CASES, Failure, ProcessHarness, Skipped, case, expect, expect_eq,  # noqa: E402,F401
                    read_records, read_text)


# ---- the byte pattern and checksum of inject_util.h ---------------------------
def pattern(n):
    return bytes(i % 251 for i in range(n))


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ---- what a program printed ----------------------------------------------------
class Run:
    def __init__(self, argv, rc, out, err, log=None, summary=None):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.log, self.summary_path = log, summary
        self.records = read_records(log) if log else []
        self.summary = read_records(summary) if summary else []

    def describe(self):
        text = (f"command: {' '.join(map(str, self.argv))}\nexit status: {self.rc}\n"
                f"stdout:\n{self.out}\nstderr:\n{self.err}")
        if self.log:
            text += f"\nrecords ({self.log}):\n{read_text(self.log)}"
        if self.summary_path:
            text += f"\nsummary ({self.summary_path}):\n{read_text(self.summary_path)}"
        return text

    def expect_rc(self, wanted=0):
        expect_eq(self.rc, wanted, "exit status", self.describe())
        return self

    def steps(self, name):
        """The key=value fields of every stdout line of step `name`."""
        found = []
        for line in self.out.splitlines():
            words = line.split()
            if words and words[0] == name:
                found.append(dict(w.split("=", 1) for w in words[1:] if "=" in w))
        return found

    def step(self, name, index=0):
        found = self.steps(name)
        expect(len(found) > index, f"the program printed no {name!r} line number {index + 1}", self.describe())
        return found[index]

    def injected(self, **match):
        """The records of injected faults (and notices), optionally matching `match`."""
        return [r for r in self.records if r.get("injected") is True and
                all(r.get(k) == v for k, v in match.items())]

    def rule_counts(self):
        """rule text -> count, from the exit summary's per-rule lines (of
        one process: the program, the only one under the library)."""
        lines = [line for line in self.summary if line.get("summary") == "inject"]
        expect_eq(len({line.get("pid") for line in lines}), 1, "processes that wrote an injection summary",
                  self.describe())
        return {line["rule"]: line["count"] for line in lines}


def ms(fields):
    """The time a step took, in ms."""
    return int(fields["ms"])


# ---- the peers -----------------------------------------------------------------
class Peer:
    """A loopback TCP server in the driver. For each connection it accepts,
    it sends `send` bytes of the pattern at once, then reads until end of
    stream or an error; each connection's outcome is appended to `results`
    as {"data": bytes, "end": "EOF" | "ECONNRESET" | error name | "timeout"}."""

    def __init__(self, host="127.0.0.1", send=0, port=0, read_timeout=20):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.send_bytes = pattern(send)
        self.read_timeout = read_timeout
        self.results = []
        self.accepted = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        data = bytearray()
        end = "timeout"
        conn.settimeout(self.read_timeout)
        try:
            if self.send_bytes:
                conn.sendall(self.send_bytes)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    end = "EOF"
                    break
                data += chunk
        except ConnectionResetError:
            end = "ECONNRESET"
        except socket.timeout:
            end = "timeout"
        except OSError as e:
            end = errno_name(e.errno)
        finally:
            conn.close()
        with self.cond:
            self.results.append({"data": bytes(data), "end": end})
            self.cond.notify_all()

    def wait(self, count=1, timeout=20):
        """The outcomes of the first `count` connections."""
        with self.cond:
            done = self.cond.wait_for(lambda: len(self.results) >= count, timeout)
        expect(done, f"the peer on port {self.port} saw {len(self.results)} connections end, not {count}, "
                     f"within {timeout} s")
        return self.results[:count]

    def untouched(self):
        """No connection reached the peer. A connection the program made has
        completed its handshake before the program ended; the short wait
        covers only the accept loop's thread picking it up."""
        time.sleep(0.2)
        with self.cond:
            return self.accepted == 0

    def close(self):
        self.sock.close()


def errno_name(num):
    return errno.errorcode.get(num, str(num))


@contextlib.contextmanager
def reserved_port(host="127.0.0.1"):
    """A port for a program that must bind a port named in a rule before it
    starts. Held for the whole block by a socket bound with SO_REUSEADDR and
    never listening: nobody else (a test running beside this one) can take
    it, while the program, which sets SO_REUSEADDR too, can still bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, 0))
        yield holder.getsockname()[1]


def refused_port(host="127.0.0.1"):
    """A bound socket that never listens: connects to its port are refused
    for as long as it is open. Returns (socket, port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s, s.getsockname()[1]


# ---- the harness ------------------------------------------------------------------
class Harness(ProcessHarness):
    def __init__(self, lib, progs, source_dir, sockdiag=None):
        super().__init__(lib, progs, "sockdiag-inject-")
        self.source_dir = os.path.abspath(source_dir)
        self.sockdiag = sockdiag  # the sockdiag command, for the cases of `sockdiag run`
        self.count = 0

    def new_path(self, stem):
        self.count += 1
        return self.path(f"{stem}.{self.count}")

    def peer(self, **kw):
        p = Peer(**kw)
        self.closers.append(p.close)
        return p

    def refused_port(self, host="127.0.0.1"):
        s, port = refused_port(host)
        self.closers.append(s.close)
        return port

    def start(self, argv, settings=None, preload=True, extra=None, cwd=None):
        return self.spawn(argv, self.env(preload, settings, extra), cwd=cwd)

    def run(self, argv, inject=None, settings=None, timeout=30, preload=True, extra=None, wrap=None, cwd=None):
        """Runs `argv` under the library with SOCKDIAG_INJECT=`inject`, JSON
        records and an exit summary in files of their own. `wrap(argv, env)`
        may put a command in front (the private /etc/hosts)."""
        log, summary = self.new_path("records"), self.new_path("summary")
        merged = {"LOG": log, "FORMAT": "json", "SUMMARY": summary}
        if inject is not None:
            merged["INJECT"] = inject
        merged.update(settings or {})
        argv = [str(a) for a in argv]
        full = argv
        if wrap:
            full, preload, extra = wrap(argv, self.preload, extra)
        proc = self.start(full, merged, preload=preload, extra=extra, cwd=cwd)
        rc, out, err = self.finish(proc, full, timeout)
        return Run(full, rc, out, err, log, summary)

    def run_plain(self, argv, timeout=30, extra=None):
        """Runs `argv` without the library."""
        proc = self.start(argv, None, preload=False, extra=extra)
        rc, out, err = self.finish(proc, argv, timeout)
        return Run(argv, rc, out, err)


# ---- a host name that /etc/hosts maps to loopback -----------------------------------
TEST_HOST = "db.sockdiag-test.internal"


class Hosts:
    """A name getaddrinfo resolves to 127.0.0.1 from /etc/hosts. curl answers
    "localhost" itself, so the tests need another name. Preferred: TEST_HOST,
    from a hosts file bind-mounted over /etc/hosts in a private mount
    namespace (unshare -m; /etc/hosts itself is never touched). Otherwise a
    name the machine's /etc/hosts already maps to loopback."""

    def __init__(self, h):
        self.h = h
        self.file = h.path("hosts")
        with open(self.file, "w") as f:
            f.write(f"127.0.0.1 localhost\n::1 ip6-localhost\n127.0.0.1 {TEST_HOST}\n")
        self.private = self._private_works()
        self.name = TEST_HOST if self.private else self._existing_name()
        if self.name is None:
            raise Skipped("no private mount namespace (unshare -m) and no name other than localhost that "
                          "/etc/hosts maps to 127.0.0.1")

    def _private_argv(self, argv, env_pairs):
        return (["unshare", "--mount", "--", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', self.file,
                 "env"] + env_pairs + argv)

    def _private_works(self):
        if shutil.which("unshare") is None:
            return False
        try:
            out = subprocess.run(self._private_argv(["getent", "hosts", TEST_HOST], []), capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.returncode == 0 and out.stdout.split()[:1] == ["127.0.0.1"]

    @staticmethod
    def _existing_name():
        try:
            with open("/etc/hosts") as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and words[0] == "127.0.0.1":
                for name in words[1:]:
                    if name != "localhost":
                        return name
        return None

    def wrap_plain(self, argv):
        """For Harness.run_plain: the command that runs `argv` with this
        hosts file and without the library."""
        return self._private_argv(argv, []) if self.private else argv

    def wrap(self, argv, lib, extra):
        """For Harness.run(wrap=...): the command that runs `argv` with the
        library preloaded into it alone (not into unshare, sh or mount)."""
        if not self.private:
            return argv, True, extra
        return self._private_argv(argv, [f"LD_PRELOAD={lib}"]), False, extra


def wait_for_line(proc, pattern_re, timeout=20):
    """The first match of `pattern_re` in a background program's stdout."""
    deadline = time.monotonic() + timeout
    seen = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
        m = re.search(pattern_re, seen.decode(errors="replace"))
        if m:
            return m
    raise Failure(f"{proc.args} printed no {pattern_re!r} within {timeout} s (so far {seen!r})")
