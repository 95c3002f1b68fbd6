"""Running programs under `sockdiag run --engine ...` and comparing what the
two engines recorded: the harness of the engine tests.

The records of a run are read from a log file of their own (--log, JSON);
the program's stdout and exit status are its own. Ports change from run to
run and are compared by role, not by number (normalized()).
"""
import os
import re
import shutil
import subprocess

import harness
from sdtest import Failure, Skipped, expect, expect_eq, read_records

# The fields the strace engine knows as the library does, compared between
# the two engines. Not compared: what strace cannot see (the host name given
# to getaddrinfo, retries the library makes, the note on how the program
# handles SIGPIPE; the local address may be missing) and what differs from
# run to run anyway (time, pid, tid, the explanation's durations).
COMPARED = ("call", "fd", "kind", "peer", "ret", "code", "via", "bytes_sent", "bytes_received")

PORT = re.compile(r":(\d+)$")

# A new PID namespace: `sockdiag run` and everything it starts get pids
# from 1, where strace pads a pid to five columns ("2     1796551780.89...").
# Elsewhere pids are what the machine has reached, often five digits.
WRAP_NEW_PIDS = ["unshare", "--pid", "--fork", "--mount-proc"]


class EngineRun(harness.Run):
    """A finished `sockdiag run`: its program's output and exit status, the
    records of its log, and what sockdiag said on stderr."""

    def engine_line(self, engine):
        """sockdiag's own line on stderr naming `engine`, the program's path
        in it made PROG (a path may hold any word)."""
        prog = self.argv[self.argv.index("--") + 1]
        lines = [line.replace(prog, "PROG") for line in self.err.splitlines() if line.startswith("sockdiag: ")]
        found = [line for line in lines if engine in line]
        expect(found, f"sockdiag said nothing about the {engine} engine", self.describe())
        return found[0]

    def expect_engine(self, engine, *words):
        """sockdiag says it observes the program through `engine`, and why:
        each of `words` is in the same line."""
        line = self.engine_line(engine)
        for word in words:
            expect(word in line, f"sockdiag's line on the engine does not say {word!r}: {line!r}",
                   self.describe())
        return line


class EngineHarness(harness.Harness):
    def __init__(self, lib, progs, build_dir, sockdiag, static_progs, go_progs):
        super().__init__(lib, progs, build_dir)
        self.sockdiag = os.path.abspath(sockdiag)
        self.static_progs = os.path.abspath(static_progs)
        self.go_progs = os.path.abspath(go_progs)
        self.strace_checked = False

    def static_prog(self, name):
        path = os.path.join(self.static_progs, name)
        expect(os.access(path, os.X_OK), f"static test program {path} is not built")
        return path

    def go_prog(self, name):
        path = os.path.join(self.go_progs, name)
        if not os.access(path, os.X_OK):
            if shutil.which("go") is None:
                raise Skipped("go is not installed (Debian package golang-go): the Go programs are not built")
            raise Failure(f"Go test program {path} is not built")
        return path

    def need_strace(self):
        """Skips the case when strace is missing or cannot trace here (no
        ptrace: a container's seccomp policy, Yama)."""
        if self.strace_checked:
            return
        strace = shutil.which("strace")
        if strace is None:
            raise Skipped("strace is not installed")
        done = subprocess.run([strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=none", "--", "true"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=20)
        if done.returncode != 0:
            raise Skipped(f"strace cannot trace here: {done.stderr.decode(errors='replace').strip()[:300]}")
        self.strace_checked = True

    def need_pid_namespace(self):
        """WRAP_NEW_PIDS works here, or the case is skipped."""
        try:
            done = subprocess.run(WRAP_NEW_PIDS + ["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=20)
        except FileNotFoundError:
            raise Skipped("unshare is not installed (Debian package util-linux)")
        if done.returncode != 0:
            raise Skipped(f"no new PID namespace here: {done.stderr.decode(errors='replace').strip()[:300]}")

    def run_engine(self, engine, argv, level=None, timeout=40, pass_fds=(), wrap=(), summary=True):
        """`[WRAP] sockdiag run --engine ENGINE --format json --log FILE
        [--level LEVEL] [--summary] -- ARGV`, the records parsed from FILE.
        run returns once the reader has read the program's end, so the
        log holds every record of the program's own calls; --summary also
        waits for processes it left running, and adds the summary."""
        if engine != "preload":
            self.need_strace()
        if wrap:
            self.need_pid_namespace()
        log = self.new_log()
        cmd = list(wrap) + [self.sockdiag, "run", "--engine", engine, "--format", "json", "--log", log]
        if level:
            cmd += ["--level", level]
        if summary:
            cmd.append("--summary")
        cmd += ["--"] + [str(a) for a in argv]
        proc = self.spawn_fds(cmd, pass_fds)
        run = EngineRun(cmd, *self.finish(proc, cmd, timeout), log=log)
        run.records = read_records(log)
        return run

    def run_direct(self, argv, timeout=40, pass_fds=()):
        """ARGV alone, with the same environment and descriptors."""
        proc = self.spawn_fds(argv, pass_fds)
        return EngineRun(argv, *self.finish(proc, argv, timeout))

    def spawn_fds(self, argv, pass_fds):
        """spawn(), keeping `pass_fds` open in the program besides 0, 1, 2."""
        proc = subprocess.Popen([str(a) for a in argv], env=self.env(preload=False), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
                                pass_fds=pass_fds)
        self.processes.append(proc)
        return proc


def port_names(printed_ports):
    """A map of port numbers to stable names: the ports the program printed
    ("port: N") first, in order, then the others as they come."""
    return {str(p): f"PORT{i}" for i, p in enumerate(printed_ports)}


def named_port(address, names, grow):
    """`address` with its port made a name of `names`; a port not there
    gets the next name when `grow`, else the name EPHEMERAL."""
    found = PORT.search(address)
    if not found:
        return address
    port = found.group(1)
    name = names.setdefault(port, f"PORT{len(names)}") if grow else names.get(port, "EPHEMERAL")
    return address[:found.start()] + ":" + name


def normalized(records, names, keys=COMPARED):
    """The compared fields of each record, the peer's port replaced by its
    name in `names` (a port not there yet gets the next name, so that two
    runs name their ports alike by order of appearance), and the local
    address, where the record has one, with its port named when the program
    printed it (a bound port), EPHEMERAL otherwise."""
    out = []
    for rec in records:
        row = {key: rec.get(key) for key in keys}
        if isinstance(row.get("peer"), str):
            row["peer"] = named_port(row["peer"], names, True)
        local = rec.get("local")
        if local:
            row["local"] = named_port(local, names, False)
        out.append(row)
    return out


def printed_ports(run):
    return [m.group(1) for m in re.finditer(r"^port: (\d+)$", run.out, re.MULTILINE)]


# What the scenario programs print that changes from run to run: ports,
# pids, thread ids.
RUN_NUMBER = re.compile(r"\b(port:|tid|parent|child) \d+")


def normalized_out(text, ordered=True):
    """Stdout with the numbers RUN_NUMBER finds made N, its lines sorted
    when processes or threads print them in any order."""
    lines = [RUN_NUMBER.sub(r"\1 N", line) for line in text.splitlines()]
    return lines if ordered else sorted(lines)


# What the library learns from inside the process and strace cannot show:
# a non-blocking connect's error still pending when the program closes the
# socket (the library reads SO_ERROR before the close; by the time strace's
# line is read, the socket is gone).
def unseen_by_strace(rec):
    return rec.get("via") == "SO_ERROR pending at close"


def expect_same_records(preload_run, strace_run, ordered=True):
    """The two runs' records agree on the compared fields: in the same order
    for a program of one thread; as multisets otherwise, and without the fd
    (which number a thread's new socket gets depends on how the threads
    interleave). The preload engine's records that strace cannot have
    (unseen_by_strace) must be absent from the strace engine's."""
    detail = (f"--- preload engine (dynamic build) ---\n{preload_run.describe()}\n"
              f"--- strace engine (static build) ---\n{strace_run.describe()}")
    for rec in strace_run.records:
        expect(not unseen_by_strace(rec), f"the strace engine recorded what it cannot see: {rec}", detail)
    a = normalized([r for r in preload_run.records if not unseen_by_strace(r)],
                   port_names(printed_ports(preload_run)))
    b = normalized(strace_run.records, port_names(printed_ports(strace_run)))
    if ordered:
        # The local address only where the strace engine knows it.
        for left, right in zip(a, b):
            if "local" not in right:
                left.pop("local", None)
    else:
        # Records of several processes or threads, in any order: as
        # multisets, without the local address (which record pairs with
        # which is not known) and the fd.
        key = lambda row: repr(sorted(row.items()))
        a = sorted(({k: v for k, v in row.items() if k not in ("local", "fd")} for row in a), key=key)
        b = sorted(({k: v for k, v in row.items() if k not in ("local", "fd")} for row in b), key=key)
    if a == b:
        return
    lines = []
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else "(none)"
        right = b[i] if i < len(b) else "(none)"
        if left != right:
            if isinstance(left, dict) and isinstance(right, dict):
                diff = {k: (left.get(k), right.get(k)) for k in left.keys() | right.keys()
                        if left.get(k) != right.get(k)}
                lines.append(f"record {i + 1}: fields differ (preload, strace): {diff}")
            else:
                lines.append(f"record {i + 1}: preload {left}, strace {right}")
    raise Failure(f"the engines' records differ ({len(a)} with preload, {len(b)} with strace):\n"
                  + "\n".join(lines[:20]) + "\n" + detail)


def expect_same_program(preload_run, strace_run, ordered=True):
    """The program did the same under both engines: exit status (or death
    signal, 128+N) and stdout."""
    detail = (f"--- preload engine ---\n{preload_run.describe()}\n"
              f"--- strace engine ---\n{strace_run.describe()}")
    expect_eq(strace_run.rc, preload_run.rc, "exit status under the strace engine (against preload)", detail)
    expect_eq(normalized_out(strace_run.out, ordered), normalized_out(preload_run.out, ordered),
              "stdout under the strace engine (against preload, ports and ids made N)", detail)
