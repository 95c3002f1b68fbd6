"""Each real-program case runs its scenario three times: without the
library (plain), under it at the default settings, and at trace level; logs
go to a directory per run, one file per process (%p), in JSON. The plain run
is the reference: the others must show the same observable results. At the
default level a healthy run writes no record; at trace level every record
is a complete JSON line with all the keys."""
import contextlib
import glob
import os
import re
import socket
import subprocess
import tempfile
import time

from harness import Failure, expect, expect_eq
from debian_tools import PYTHON
from record_stream import stream_records


class Mode:
    """One of the three runs: plain, default or trace."""

    def __init__(self, h, name):
        self.h, self.name = h, name
        self.preload = name != "plain"
        self.logdir = tempfile.mkdtemp(prefix=f"logs-{name}-", dir=h.tmp)

    def settings(self):
        if not self.preload:
            return None
        s = {"LOG": os.path.join(self.logdir, "log.%p"), "FORMAT": "json"}
        if self.name == "trace":
            s["LEVEL"] = "trace"
        return s

    def run(self, argv, **kw):
        return self.h.run(argv, preload=self.preload, settings=self.settings(), **kw)

    def start(self, argv, **kw):
        return self.h.start(argv, preload=self.preload, settings=self.settings(), **kw)

    def popen(self, argv, extra=None, **kw):
        """A process with the file descriptors the caller gives it (the
        harness's start() gives stdin /dev/null)."""
        proc = subprocess.Popen([str(a) for a in argv], env=self.h.env(self.preload, self.settings(), extra),
                                start_new_session=True, **kw)
        self.h.processes.append(proc)
        return proc

    def records(self):
        """All records of the run's processes, each checked complete."""
        records = []
        for path in sorted(glob.glob(os.path.join(self.logdir, "log.*"))):
            records.extend(stream_records(path))
        return records


def describe(records, limit=20):
    """The records on sockets first, one short line each."""
    records = sorted(records, key=lambda r: r["kind"] == "")
    return "\n".join(f"{r['prog']}[{r['pid']}] {r['level']} {r['call']} fd={r['fd']} {r['kind']} {r['peer']} "
                     f"= {r['ret']} {r['code']} {r['explanation'][:120]}" for r in records[:limit])


def three_runs(h, scenario, traced_calls, healthy=True, make_mode=Mode):
    """Runs `scenario(mode)` (it returns what the run showed: statuses,
    output, files) plain, at the default level and at trace level. The
    results must be equal; `traced_calls` are (prog, call) pairs that must
    have a trace record, where call may be a tuple of names of which any one
    will do (what every version of the program calls: libuv waits in
    epoll_wait or epoll_pwait depending on its version). `make_mode(h,
    name)` makes each run's mode. Returns {mode name: (result, records)}."""
    runs = {}
    for name in ("plain", "default", "trace"):
        mode = make_mode(h, name)
        result = scenario(mode)
        runs[name] = (result, mode.records() if mode.preload else [])
    reference = runs["plain"][0]
    for name in ("default", "trace"):
        expect_eq(runs[name][0], reference, f"what the programs showed at the {name} settings vs without the library")
    if healthy:
        default = runs["default"][1]
        expect_eq(len(default), 0, "records of a healthy run at the default level", describe(default))
    traced = {(r["prog"], r["call"]) for r in runs["trace"][1]}
    def seen(prog, call):
        return any((prog, name) in traced for name in (call if isinstance(call, tuple) else (call,)))

    missing = [pair for pair in traced_calls if not seen(*pair)]
    expect(not missing, f"no trace record of {missing}: the library did not see these programs' calls",
           describe(runs["trace"][1], 60))
    return runs


@contextlib.contextmanager
def closed_port():
    """A loopback port nobody listens on and nobody can take while the block
    runs: bound, not listening, so that connects to it are refused (RST)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def first_line_port(h, proc, pattern):
    line = h.read_line(proc)
    match = re.search(pattern, line)
    expect(match, f"{proc.args[0]} said {line!r}, not its port")
    return int(match.group(1))


@contextlib.contextmanager
def http_server(h, mode, root):
    """python3 -m http.server serving `root` on 127.0.0.1 and a port the
    kernel picks, under `mode`; yields its base URL."""
    server = mode.start([PYTHON, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, "0"],
                        stderr=open(h.path(f"http.server-{mode.name}.stderr"), "wb"))
    port = first_line_port(h, server, r"port (\d+)")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def socket_inodes(pid):
    """The inodes of the sockets process `pid` holds now. An fd the program
    closes between the listing and its readlink is skipped, not taken for
    the end of the process (socat opens and closes fds while it starts)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def listening_port(proc, timeout=20):
    """The TCP port the process `proc` (a Popen) listens on, found through
    /proc (for programs that cannot tell which port they got)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"process {proc.pid} ended with status {proc.returncode} before it listened")
        try:
            inodes = socket_inodes(proc.pid)
            with open(f"/proc/{proc.pid}/net/tcp") as f:
                next(f)
                for row in f:
                    fields = row.split()
                    if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                        return int(fields[1].split(":")[1], 16)
        except (FileNotFoundError, ProcessLookupError):
            pass  # it ended between poll() and the listing: the next poll() says how
        time.sleep(0.02)
    raise Failure(f"process {proc.pid} did not listen within {timeout} s")
