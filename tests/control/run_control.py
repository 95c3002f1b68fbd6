#!/usr/bin/env python3
"""Runs one live-control case (`sockdiag ctl`, SOCKDIAG_CONTROL), or lists them.

  run_control.py --list                       one "ID<TAB>TITLE" line per case
  run_control.py --lib L --sockdiag CMD CASE_ID

Every case gives its programs and `sockdiag ctl` a control directory of its
own (XDG_RUNTIME_DIR): the user's real one is never touched. Exit status 0
when every check held, 1 when one failed, 77 skipped, 2 wrong usage.
"""
import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from sdtest import (CASES, Failure, ProcessHarness, case, driver_parser, expect, expect_eq,  # noqa: E402
                    list_or_run)

HERE = os.path.dirname(os.path.abspath(__file__))


class Harness(ProcessHarness):
    def __init__(self, lib, sockdiag):
        super().__init__(lib, HERE, "sockdiag-control-")
        self.sockdiag = os.path.abspath(sockdiag)
        self.runtime = self.path("runtime")
        os.mkdir(self.runtime, 0o700)

    def env(self, preload=True, settings=None, extra=None):
        env = super().env(preload, settings, extra)
        env["XDG_RUNTIME_DIR"] = self.runtime
        return env

    def ctl(self, *args, rc=0):
        """`sockdiag ctl ARGS`: (stdout, stderr), its exit status checked."""
        argv = [self.sockdiag, "ctl", *map(str, args)]
        p = subprocess.run(argv, env=self.env(preload=False), capture_output=True, text=True, timeout=20)
        expect_eq(p.returncode, rc, f"exit status of {' '.join(argv)}", p.stdout + p.stderr)
        return p.stdout, p.stderr

    def ctl_json(self, *args):
        out, _ = self.ctl(*args, "--format", "json")
        return json.loads(out)["processes"]


class Lines:
    """The lines a program prints, read as they come."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.partial = b""

    def until(self, predicate, what, timeout=20):
        """Reads until predicate(line) holds for a new line; returns it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            nl = self.partial.find(b"\n")
            if nl >= 0:
                line = self.partial[:nl].decode()
                self.partial = self.partial[nl + 1:]
                self.lines.append(line)
                if predicate(line):
                    return line
                continue
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.partial += chunk
        raise Failure(f"no line {what} within {timeout} s; lines so far: {self.lines[-20:]}")


def start_under_run(h, script, *args):
    argv = [h.sockdiag, "run", "--", sys.executable, os.path.join(HERE, script), *map(str, args)]
    return h.spawn(argv, h.env(preload=False))


def controlled(h, run, prog, timeout=20):
    """The process of `sockdiag run` `run` whose program is `prog`, once it
    can be controlled."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        procs = [p for p in h.ctl_json("--run", run, "list") if p["prog"] == prog] if any(
            n.endswith(".ctl") for n in os.listdir(os.path.join(h.runtime, "sockdiag"))) else []
        if procs:
            return procs
        time.sleep(0.1)
    raise Failure(f"no {prog} of sockdiag run {run} could be controlled within {timeout} s")


@case("QA scenario: a refusal added to a running client, counted, then cleared")
def qa_scenario(h):
    server = start_under_run(h, "qa_server.py")
    port = int(Lines(server).until(lambda l: l.startswith("listening"), "listening").split()[1])
    client = start_under_run(h, "qa_client.py", port)
    out = Lines(client)
    out.until(lambda l: l == "ok", "ok before any rule")
    controlled(h, client.pid, "python3")

    rule = f"connect:error=ECONNREFUSED:port={port}"
    h.ctl("--run", client.pid, "add", rule)
    first_error = len(out.lines)
    out.until(lambda l: l.startswith("error"), "error after ctl add")
    expect(all(l == "ok" for l in out.lines[:first_error]), "errors before the rule was added", out.lines)
    for _ in range(5):
        out.until(lambda l: True, "more attempts")
    # Paused, no call meets the rule: the counts stand still, and every
    # error the client met is printed once it prints an "ok" again.
    h.ctl("--run", client.pid, "pause")
    out.until(lambda l: l == "ok", "ok while paused")
    (proc,) = h.ctl_json("--run", client.pid, "counters")
    expect_eq(proc["paused"], True, "paused in ctl's json")
    expect_eq([r["rule"] for r in proc["rules"]], [rule], "the rules in force")
    errors = [l for l in out.lines if l.startswith("error")]
    expect(all(l == "error ECONNREFUSED" for l in errors), "errors other than the refusal", errors)
    expect_eq(proc["rules"][0]["injected"], len(errors), "refusals injected (ctl counters) vs met by the client")
    expect_eq(proc["rules"][0]["seen"], len(errors), "connects the rule saw")
    expect_eq(proc["rules"][0]["by_peer"], [{"call": "connect", "peer": f"127.0.0.1:{port}", "injected": len(errors)}],
              "the refusals by call and peer (ctl counters)")
    expect_eq(proc["untallied"], 0, "injections the tally had no room for")
    # --run names one tree: the server, started by another `sockdiag run`, has no rule.
    (srv,) = h.ctl_json("--run", server.pid, "counters")
    expect_eq(srv["rules"], [], "the server's rules")

    h.ctl("--run", client.pid, "resume")
    out.until(lambda l: l.startswith("error"), "error after resume")
    h.ctl("--run", client.pid, "clear")
    mark = len(out.lines)
    out.until(lambda l: l == "ok", "ok after ctl clear")
    for _ in range(10):
        out.until(lambda l: True, "attempts after clear")
    # At most the attempt under way when clear returned may still fail.
    late = [l for l in out.lines[mark + 1:] if l != "ok"]
    expect_eq(late, [], "errors after the client recovered")
    (proc,) = h.ctl_json("--run", client.pid, "list")
    expect_eq(proc["rules"], [], "rules after clear")


@case("a QA loop of short-lived clients: a change to the run reaches every client started later")
def client_loop(h):
    server = start_under_run(h, "qa_server.py")
    port = int(Lines(server).until(lambda l: l.startswith("listening"), "listening").split()[1])
    stop = h.path("stop")
    # A new client process (fork and exec) every 50 ms, for at most 60 s.
    script = (f'end=$((SECONDS+60)); while [ ! -e "{stop}" ] && [ $SECONDS -lt $end ]; do '
              f'"{sys.executable}" "{os.path.join(HERE, "qa_client.py")}" {port} once; sleep 0.05; done')
    argv = [h.sockdiag, "run", "--", "bash", "-c", script]
    loop = h.spawn(argv, h.env(preload=False))
    out = Lines(loop)
    run_file = os.path.join(h.runtime, "sockdiag", f"{loop.pid}.run")
    out.until(lambda l: l == "ok", "ok before any rule")
    controlled(h, loop.pid, "bash")

    def every_later_client(line, what, n=8):
        """After ctl returned: the client under way may still end as before;
        every one after it prints `line`."""
        mark = len(out.lines)
        for _ in range(n + 1):
            out.until(lambda l: True, what)
        late = out.lines[mark + 1:]
        expect_eq(late, [line] * len(late), f"clients started after ctl {what}")

    rule = f"connect:error=ECONNREFUSED:port={port}"
    h.ctl("--run", loop.pid, "add", rule)
    every_later_client("error ECONNREFUSED", "add")
    runs = json.loads(h.ctl("--run", loop.pid, "list", "--format", "json")[0])["runs"]
    expect_eq([(r["run"], r["changed"], r["rules"]) for r in runs], [(loop.pid, True, [rule])],
              "the run's starting rules in ctl's json")
    h.ctl("--run", loop.pid, "pause")
    every_later_client("ok", "pause")
    h.ctl("--run", loop.pid, "resume")
    every_later_client("error ECONNREFUSED", "resume")
    h.ctl("--run", loop.pid, "clear")
    every_later_client("ok", "clear")

    open(stop, "w").close()
    status, _, err = h.finish(loop, argv, 20)
    expect_eq(status, 0, "exit status of the loop's sockdiag run", err)
    expect(not os.path.exists(run_file), "the run file is removed when sockdiag run ends", run_file)


@case("a program started with LD_PRELOAD alone is controlled only when it opts in")
def preload_opt_in(h):
    argv = [sys.executable, os.path.join(HERE, "qa_server.py")]
    plain = h.spawn(argv, h.env())
    Lines(plain).until(lambda l: l.startswith("listening"), "listening")
    opted = h.spawn(argv, h.env(settings={"CONTROL": "yes"}))
    port = int(Lines(opted).until(lambda l: l.startswith("listening"), "listening").split()[1])
    h.ctl("--pid", plain.pid, "list", rc=1)
    (proc,) = h.ctl_json("--pid", opted.pid, "list")
    expect_eq(proc["run"], 0, "the run of a process outside sockdiag run")
    h.ctl("--pid", opted.pid, "add", "accept:error=ECONNABORTED")
    # The opted-in server now fails its accept: the client's connection is
    # taken by the kernel, then the program's accept says ECONNABORTED (its
    # loop dies on it: Python raises ConnectionAbortedError).
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    rc = opted.wait(timeout=20)
    err = opted.stderr.read().decode()
    expect(rc != 0 and "ConnectionAbortedError" in err, "the server's accept did not fail as ctl asked", err)
    path = os.path.join(h.runtime, "sockdiag", f"{opted.pid}.ctl")
    expect(not os.path.exists(path), f"{path} outlived its process")


@case("rules given to ctl are checked as at start-up and refused whole")
def refused_whole(h):
    proc = h.spawn([sys.executable, os.path.join(HERE, "qa_server.py")], h.env(settings={"CONTROL": "yes"}))
    Lines(proc).until(lambda l: l.startswith("listening"), "listening")
    h.ctl("--pid", proc.pid, "add", "connect:error=ECONNREFUSED")
    before = h.ctl_json("--pid", proc.pid, "list")
    _, err = h.ctl("--pid", proc.pid, "add", "recv:eof; conect:error=ECONNREFUSED", rc=2)
    lines = err.strip().splitlines()
    expect_eq(len(lines), 1, "lines said for bad rules", err)
    # The parser's own words, as for --inject.
    expect("RULES, column 11" in lines[0] and "connect" in lines[0], "the refusal names the column and the call",
           err)
    expect_eq(h.ctl_json("--pid", proc.pid, "list"), before, "the rules after a refused change")
    _, err = h.ctl("--pid", proc.pid, "frobnicate", rc=2)
    expect("accepted: list" in err, "an unknown action lists the actions", err)
    out, _ = h.ctl("--pid", proc.pid, "remove", "1")
    expect("no rule" in out, "remove 1 leaves no rule", out)


@case("a forked child takes its parent's rules as a set of its own")
def forked_child(h):
    server = h.spawn([sys.executable, os.path.join(HERE, "qa_server.py")], h.env(preload=False))
    port = int(Lines(server).until(lambda l: l.startswith("listening"), "listening").split()[1])
    go = h.path("go")
    proc = h.spawn([sys.executable, os.path.join(HERE, "fork_client.py"), port, go],
                   h.env(settings={"CONTROL": "yes"}))
    out = Lines(proc)
    out.until(lambda l: l == "ready", "ready")
    rule = f"connect:error=ECONNREFUSED:port={port}"
    h.ctl("--pid", proc.pid, "add", rule)
    open(go, "w").close()
    results = [out.until(lambda l: " " in l, "a connect's outcome") for _ in range(2)]
    expect_eq(sorted(r.split(" ", 1)[1] for r in results), ["error ECONNREFUSED"] * 2,
              "the parent's and the child's connects", results)
    pids = sorted(int(r.split()[0]) for r in results)
    procs = h.ctl_json("counters")
    expect_eq(sorted(p["pid"] for p in procs), pids, "the processes ctl can control")
    for p in procs:
        expect_eq([(r["rule"], r["injected"]) for r in p["rules"]], [(rule, 1)],
                  f"the rules and counts of {p['pid']} (each process counts its own)")
    # A change reaches one process only when asked so.
    child = max(pids) if max(pids) != proc.pid else min(pids)
    h.ctl("--pid", child, "clear")
    by_pid = {p["pid"]: p["rules"] for p in h.ctl_json("list")}
    expect_eq(by_pid[child], [], "the child's rules after clearing them")
    expect_eq([r["rule"] for r in by_pid[proc.pid]], [rule], "the parent's rules")


@case("rules swapped many times under busy threads: every call sees a whole set")
def swaps_under_threads(h):
    server = h.spawn([sys.executable, os.path.join(HERE, "qa_server.py")], h.env(preload=False))
    port = int(Lines(server).until(lambda l: l.startswith("listening"), "listening").split()[1])
    proc = h.spawn([sys.executable, os.path.join(HERE, "threads_client.py"), port, 6],
                   h.env(settings={"CONTROL": "yes", "LEVEL": "off"}))
    out = Lines(proc)
    out.until(lambda l: l == "started", "started")
    # A refusal, an unreachable network, no rule, in turn: whichever set a
    # call took, it met one of them, never anything else, and nothing broke.
    sets = [f"connect:error=ECONNREFUSED:port={port}", f"connect:error=ENETUNREACH:port={port}", None]
    for i in range(60):
        rule = sets[i % 3]
        if rule:
            h.ctl("--pid", proc.pid, "replace", rule)
        else:
            h.ctl("--pid", proc.pid, "clear")
    out.until(lambda l: l == "done", "done", timeout=30)
    outcomes = dict(l.split() for l in out.lines if l not in ("started", "done"))
    expect(set(outcomes) <= {"ok", "ECONNREFUSED", "ENETUNREACH"}, "outcomes other than the rules'", outcomes)
    expect("ok" in outcomes, "no connect went through", outcomes)
    expect_eq(proc.wait(timeout=20), 0, "the client's exit status")


@case("a stall ends when ctl takes its rule away: blocked calls and waits get the data, writes get room")
def stall_lifted(h):
    import socket
    for how, action, rule in (("recv", ["remove", "1"], "io:stall"), ("poll", ["pause"], "io:stall"),
                              ("epoll", ["clear"], "output:stall")):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(20)
        port = listener.getsockname()[1]
        proc = h.spawn([sys.executable, os.path.join(HERE, "stall_client.py"), port, how],
                       h.env(settings={"CONTROL": "yes", "INJECT": rule, "LEVEL": "info"}))
        out = Lines(proc)
        conn, _ = listener.accept()
        conn.settimeout(20)
        out.until(lambda l: l == "connected", "connected")
        if how == "epoll":
            out.until(lambda l: l == "no room", "no room for the first send (the stall began)")
        conn.sendall(b"hello\n")
        # Stalled: the line is in the client's socket, the client sees nothing
        # (epoll: no room to answer).
        time.sleep(0.5)
        out.proc.poll()
        expect_eq(proc.returncode, None, f"{how}: the client's state while stalled (still waiting)")
        h.ctl("--pid", proc.pid, *action)
        if how == "epoll":
            out.until(lambda l: l.startswith("events"), f"{how}: epoll's report after ctl {action[0]}", timeout=10)
        got = out.until(lambda l: l.startswith("got"), f"{how}: the line after ctl {action[0]}", timeout=10)
        expect_eq(got, "got hello", f"{how}: what the client read once the stall ended")
        out.until(lambda l: l == "sent", f"{how}: its answer sent", timeout=10)
        expect_eq(conn.recv(100), b"bye\n", f"{how}: the answer the server received")
        expect_eq(proc.wait(timeout=20), 0, f"{how}: the client's exit status")
        err = proc.stderr.read().decode()
        expect("the stall ended: its rule is no longer in force" in err, f"{how}: the record of the stall's end", err)
        conn.close()
        listener.close()


@case("a datagram drop added by ctl never wakes an epoll registration made before it")
def drop_added_later(h):
    import socket
    proc = h.spawn([sys.executable, os.path.join(HERE, "udp_oneshot.py")],
                   h.env(settings={"CONTROL": "yes", "LEVEL": "info"}))
    out = Lines(proc)
    port = int(out.until(lambda l: l.startswith("port"), "port").split()[1])
    rule = "input:drop:nth=1"
    h.ctl("--pid", proc.pid, "add", rule)
    # The wait under way when ctl returned is a call of the rules before it
    # (tools/INJECT.md): the next one, at most 200 ms later, takes the rule in.
    time.sleep(1)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data in (b"one", b"two", b"last"):
        sender.sendto(data, ("127.0.0.1", port))
        time.sleep(0.3)
    sender.close()
    expect_eq(proc.wait(timeout=20), 0, "the receiver's exit status")
    out.until(lambda l: l == "got last", "got last")
    # The dropped datagram woke nothing (no read that found nothing), and
    # the one-shot registration the kernel disarmed for it was armed again.
    expect_eq(out.lines[1:], ["got two", "got last"], "what the receiver saw after the rule was added")
    err = proc.stderr.read().decode()
    expect("the datagram was dropped (3 bytes): the program never sees it" in err, "the record of the drop", err)


@case("a wrong SOCKDIAG_CONTROL stops the program with one line")
def bad_setting(h):
    p = subprocess.run([sys.executable, "-c", "pass"], env=h.env(settings={"CONTROL": "maybe"}),
                       capture_output=True, text=True, timeout=20)
    expect_eq(p.returncode, 78, "exit status")
    lines = p.stderr.strip().splitlines()
    expect_eq(len(lines), 1, "lines said", p.stderr)
    expect("SOCKDIAG_CONTROL" in lines[0] and "'maybe'" in lines[0] and "run:N" in lines[0],
           "the line names the variable, the value and what is accepted", p.stderr)


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib")
    parser.add_argument("--sockdiag")
    args = parser.parse_args()
    return list_or_run(parser, args, CASES, ("lib", "sockdiag"), lambda a: Harness(a.lib, a.sockdiag))


if __name__ == "__main__":
    sys.exit(main())
