#!/usr/bin/env python3
"""Runs one test case of the retry and SIGPIPE policies (sockdiag issue 3).

Each case runs the small C programs of this directory under libsockdiag
(and, for comparison, without it), then checks what the program printed,
how it ended (exit status or signal) and the JSON records of its
SOCKDIAG_LOG file. Usage:

  policy_case.py --list            one "CASE<TAB>CASE" line per case
  policy_case.py --lib libsockdiag.so --stub libtest_stub_econnaborted.so --bin DIR CASE

Exit status: 0 pass, 1 fail (what was expected and what happened are
printed), 77 skipped (a tool the case needs cannot run here), 2 on wrong
usage.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from sdtest import (Failure, Skipped, driver_parser, inherited_env, list_or_run, parse_records,  # noqa: E402
                    preload_value)

RUN_TIMEOUT_S = 30  # every program run; the slowest case needs ~3 s

WAITS = ["poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait"]


class Run:
    """One finished program run: its output, its end, its log."""

    def __init__(self, desc, proc, log_text, json_log):
        self.desc = desc
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.lines = proc.stdout.splitlines()
        self.exit = proc.returncode if proc.returncode >= 0 else None
        self.signal = -proc.returncode if proc.returncode < 0 else None
        self.log_text = log_text
        self.records = []
        self.summaries = []
        for obj in parse_records(log_text, f"the log of {desc}") if json_log else []:
            (self.summaries if "summary" in obj else self.records).append(obj)

    def ending(self):
        return f"killed by signal {self.signal}" if self.signal else f"exit status {self.exit}"

    def context(self):
        log = "\n".join(line[:300] for line in self.log_text.splitlines()[:6])
        return (f"\n--- run: {self.desc}\n--- ended: {self.ending()}\n--- stdout:\n{self.stdout}"
                f"--- stderr:\n{self.stderr[:2000]}\n--- log (first lines):\n{log}\n")

    def value(self, key):
        """The text after "KEY: " on the program's line for KEY."""
        for line in self.lines:
            if line.startswith(key + ": "):
                return line[len(key) + 2:]
        raise Failure(f"no '{key}:' line in the program's output" + self.context())

    def number(self, key):
        text = self.value(key).split()[0]
        try:
            return float(text)
        except ValueError:
            raise Failure(f"'{key}: {text}' is not a number" + self.context())

    def with_code(self, code, call=None):
        return [r for r in self.records if r.get("code") == code and (call is None or r.get("call") == call)]

    def retry_records(self):
        return [r for r in self.records if r.get("retrying")]

    def retry_summaries(self):
        return [s for s in self.summaries if s.get("summary") == "retry"]


def expect(cond, what, run=None):
    if not cond:
        raise Failure(what + (run.context() if run else ""))


class Context:
    def __init__(self, lib, stub, bindir):
        self.lib = lib
        self.stub = stub
        self.bindir = bindir
        self.tmp = tempfile.mkdtemp(prefix="sockdiag-policy-")
        self.count = 0

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, prog, *args, env=None, preload="lib", log=True, wrap=()):
        """Runs bindir/prog. preload: "lib", "lib+stub", "stub" or "none".
        log: records go, as JSON at level info, to a file of their own (the
        settings in `env` win); without it only `env` is set."""
        self.count += 1
        full = inherited_env()
        libs = {"lib": [self.lib], "lib+stub": [self.lib, self.stub], "stub": [self.stub], "none": []}[preload]
        if libs:
            full["LD_PRELOAD"] = preload_value(":".join(libs))
        log_path = os.path.join(self.tmp, f"log-{self.count}.json")
        extra = {}
        if log and preload != "none":
            extra = {"SOCKDIAG_LOG": log_path, "SOCKDIAG_FORMAT": "json", "SOCKDIAG_LEVEL": "info",
                     "SOCKDIAG_SUMMARY": "1"}
        extra.update(env or {})
        full.update(extra)
        argv = list(wrap) + [os.path.join(self.bindir, prog)] + list(args)
        shown = " ".join(f"{k}={v}" for k, v in extra.items() if k != "SOCKDIAG_LOG")
        preloaded = {"lib": "", "lib+stub": " (LD_PRELOAD libsockdiag + test stub)",
                     "stub": " (LD_PRELOAD test stub only)", "none": " (without libsockdiag)"}[preload]
        desc = f"{shown} {' '.join(argv)}{preloaded}".strip()
        try:
            # The child gets SIGPIPE at its default whatever this process has.
            proc = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                                  restore_signals=True)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
            raise Failure(f"{desc}: did not finish within {RUN_TIMEOUT_S} s (killed); stdout so far:\n{out}")
        text = ""
        if os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        return Run(desc, proc, text, full.get("SOCKDIAG_FORMAT") == "json")


# ---- Shared checks ------------------------------------------------------------

def expect_line(run, line):
    expect(line in run.lines, f"expected the line '{line}'", run)


def expect_exit(run, status):
    expect(run.exit == status, f"expected exit status {status}, got: {run.ending()}", run)


def expect_killed_by_sigpipe(run):
    expect(run.signal == signal.SIGPIPE, f"expected death by SIGPIPE (13), got: {run.ending()}", run)


def expect_no_retries(run):
    expect(not run.retry_records(), "expected no retry record", run)
    expect(not run.retry_summaries(), "expected no retry summary line", run)


def expect_retries(run, call, code):
    """Retry records for call/code numbered 1..N, N also in the summary.
    Returns N."""
    recs = run.retry_records()
    expect(recs, f"expected retry records for {call} {code}", run)
    for r in recs:
        expect(r.get("call") == call and r.get("code") == code and r.get("level") == "info",
               f"expected every retry record to be an info record for {call} {code}, got {r}", run)
    numbers = [r.get("retries") for r in recs]
    expect(numbers == list(range(1, len(recs) + 1)), f"expected retry numbers 1..{len(recs)}, got {numbers}", run)
    for r in recs:
        expect(isinstance(r.get("waited_ms"), (int, float)) and r["waited_ms"] >= 0,
               f"expected waited_ms in every retry record, got {r}", run)
    sums = run.retry_summaries()
    expect(len(sums) == 1 and sums[0].get("call") == call and sums[0].get("code") == code
           and sums[0].get("count") == len(recs),
           f"expected one summary line {{\"summary\":\"retry\",\"call\":\"{call}\",\"code\":\"{code}\","
           f"\"count\":{len(recs)}}}, got {sums}", run)
    return len(recs)


def expect_signals(run, at_least=10):
    expect(run.number("signals") >= at_least,
           f"expected the call to be hit by the signal storm (at least {at_least} signals)", run)


def same_as_without_library(ctx, run, prog, *args, keys, preload_without="none"):
    """The run's lines for `keys` and its ending equal those of a run
    without libsockdiag."""
    ref = ctx.run(prog, *args, preload=preload_without, log=False)
    mine = [l for l in run.lines if l.split(":")[0] in keys]
    theirs = [l for l in ref.lines if l.split(":")[0] in keys]
    expect(mine == theirs and run.ending() == ref.ending(),
           f"expected the same output and ending as without libsockdiag:\n{theirs} ({ref.ending()})",
           run)


# ---- EINTR -------------------------------------------------------------------------

BLOCKING = {  # mode: (call, success line)
    "recv": ("recv", "recv: 4 OK"),
    "send": ("send", "send: 1 OK"),
    "accept": ("accept", None),
    "connect": ("connect", "connect: 0 OK"),
}


def eintr_retried(mode):
    call, ok_line = BLOCKING[mode]

    def case(ctx):
        run = ctx.run("eintr_storm", mode, env={"SOCKDIAG_RETRY": "eintr"})
        expect_exit(run, 0)
        if ok_line:
            expect_line(run, ok_line)
        else:
            expect(re.fullmatch(r"\d+ OK", run.value(call)) is not None, f"expected {call} to succeed", run)
        expect_signals(run)
        n = expect_retries(run, call, "EINTR")
        expect(not [r for r in run.with_code("EINTR") if not r.get("retrying")],
               "expected no EINTR failure record: every EINTR was retried", run)
        if mode == "recv":
            expect_line(run, "data: pong")
        if mode == "connect":
            # One wait for the handshake, not a connect per signal.
            expect(n == 1, f"expected exactly one retry record for connect, got {n}", run)
            expect(run.retry_records()[0]["waited_ms"] > 0, "expected the connect retry to wait", run)
            expect_line(run, "peer got: x")
            # Left as an uninterrupted connect leaves it: connected.
            expect_line(run, "getpeername: 0 OK")
            expect_line(run, "connect again: -1 EISCONN")
    return case


def eintr_connect_no_ealready(ctx):
    strace = shutil.which("strace")
    if not strace:
        raise Skipped("strace is not installed")
    trace = os.path.join(ctx.tmp, "strace.txt")
    run = ctx.run("eintr_storm", "connect", env={"SOCKDIAG_RETRY": "eintr"},
                  wrap=(strace, "-f", "-qq", "-e", "trace=connect", "-e", "signal=none", "-o", trace))
    if run.exit != 0 and "ptrace" in run.stderr:
        raise Skipped("strace cannot trace here: " + run.stderr.strip().splitlines()[-1])
    expect_exit(run, 0)
    expect_line(run, "connect: 0 OK")
    with open(trace) as f:
        calls = [l for l in f.read().splitlines() if "connect(" in l]
    # The socket that fills the accept queue, the one interrupted by the
    # storm, and, once the handshake is over, the connect that collects its
    # outcome: never one while it goes on (EALREADY). The program's own
    # connect again (EISCONN) is the last.
    expect(len(calls) == 4 and calls[2].endswith("= 0") and not any("EALREADY" in c for c in calls),
           "expected 4 connect system calls (after EINTR, connect again only once the handshake was over, "
           "returning 0), got:\n" + "\n".join(calls), run)


def eintr_seen_without_retry(mode):
    call = BLOCKING[mode][0] if mode in BLOCKING else mode

    def case(ctx):
        run = ctx.run("eintr_storm", mode)
        expect_exit(run, 1)
        expect_line(run, f"{call}: -1 EINTR")
        expect_no_retries(run)
        recs = run.with_code("EINTR", call)
        expect(len(recs) == 1 and recs[0].get("retries") == 0 and recs[0].get("level") == "info",
               f"expected one info record of {call} EINTR with \"retries\":0", run)
        same_as_without_library(ctx, run, "eintr_storm", mode, keys=[call])
    return case


def wait_on_time(call):
    def case(ctx):
        run = ctx.run("eintr_storm", call, env={"SOCKDIAG_RETRY": "eintr"})
        expect_exit(run, 0)
        expect_line(run, f"{call}: 0 OK")
        expect_signals(run)
        expect_retries(run, call, "EINTR")
        # 300 ms timeout, counted from the call. Restarted with the whole
        # timeout, the wait would only end 300 ms after the storm stops
        # itself (3,000 signals: 3.3 s); the upper bound leaves a loaded
        # machine more than a second and a half of delays.
        elapsed = run.number("elapsed_ms")
        expect(290 <= elapsed < 2000, f"expected the wait to end after its 300 ms timeout (290 <= elapsed < 2000 ms), "
               f"got {elapsed:.0f} ms", run)
    return case


def wait_counts_handler_time(call):
    def case(ctx):
        run = ctx.run("eintr_storm", call + "-slow", env={"SOCKDIAG_RETRY": "eintr"})
        expect_exit(run, 0)
        expect_line(run, f"{call}: 0 OK")
        # The first handler run alone takes 1100 ms, more than the 1000 ms
        # timeout: the wait must end when it returns (~1100 ms), not 1000 ms
        # after the interruption (~2100 ms). Half a second of margin each way.
        elapsed = run.number("elapsed_ms")
        expect(elapsed < 1600, f"expected the wait to end once the 1100 ms handler returned (elapsed < 1600 ms): "
               f"the 1000 ms are counted from the call, time spent in handlers included; got {elapsed:.0f} ms", run)
    return case


def eintr_retry_max(ctx):
    run = ctx.run("eintr_storm", "recv", env={"SOCKDIAG_RETRY": "eintr", "SOCKDIAG_RETRY_MAX": "5"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EINTR")
    n = expect_retries(run, "recv", "EINTR")
    expect(n == 5, f"expected 5 retries (SOCKDIAG_RETRY_MAX=5), got {n}", run)
    final = [r for r in run.with_code("EINTR", "recv") if not r.get("retrying")]
    expect(len(final) == 1 and final[0].get("retries") == 5,
           "expected the final EINTR record to say \"retries\":5", run)


def eintr_limited_to_calls(ctx):
    run = ctx.run("eintr_storm", "recv", env={"SOCKDIAG_RETRY": "eintr@poll"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EINTR")
    expect_no_retries(run)
    run = ctx.run("eintr_storm", "poll", env={"SOCKDIAG_RETRY": "eintr@poll"})
    expect_exit(run, 0)
    expect_line(run, "poll: 0 OK")
    run = ctx.run("eintr_storm", "recv", env={"SOCKDIAG_RETRY": "eintr@recvfrom+epoll_wait"})
    expect_exit(run, 0)
    expect_line(run, "recv: 4 OK")


def eintr_connect_bound(ctx):
    run = ctx.run("eintr_storm", "connect", env={"SOCKDIAG_RETRY": "eintr", "SOCKDIAG_RETRY_TIMEOUT_MS": "200"})
    expect_exit(run, 1)
    expect_line(run, "connect: -1 EINTR")
    final = [r for r in run.with_code("EINTR", "connect") if not r.get("retrying")]
    expect(len(final) == 1 and final[0].get("retries") == 1,
           "expected the final connect EINTR record to say \"retries\":1", run)


def eintr_connect_refused(ctx):
    run = ctx.run("eintr_storm", "connect-refused", env={"SOCKDIAG_RETRY": "eintr"})
    expect_exit(run, 1)
    expect_line(run, "connect: -1 ECONNREFUSED")
    # As after an uninterrupted refused connect: unconnected, and a connect
    # again is a new attempt (refused again), not the kernel's ECONNABORTED
    # for an attempt whose error was read through SO_ERROR.
    expect_line(run, "getpeername: -1 ENOTCONN")
    expect_line(run, "connect again: -1 ECONNREFUSED")
    n = expect_retries(run, "connect", "EINTR")
    expect(n == 1, f"expected one retry record for connect, got {n}", run)
    final = run.with_code("ECONNREFUSED", "connect")
    expect(len(final) == 2 and final[0].get("retries") == 1 and final[1].get("retries") == 0,
           "expected the connect ECONNREFUSED record to say \"retries\":1 (and the program's connect "
           "again its own, \"retries\":0)", run)


def eintr_connect_unix(ctx):
    """A blocking AF_UNIX connect waiting for room in a full backlog: a
    signal leaves nothing going on, so the retry connects again; the
    program's connect returns 0 only once it is really connected."""
    run = ctx.run("eintr_storm", "connect-unix", env={"SOCKDIAG_RETRY": "eintr"})
    expect_exit(run, 0)
    expect_line(run, "connect: 0 OK")
    expect_line(run, "getpeername: 0 OK")
    expect_line(run, "send: 1 OK")
    expect_line(run, "peer got: x")
    expect_signals(run)
    expect_retries(run, "connect", "EINTR")
    # Without the library the first signal ends the connect: nothing connected.
    ref = ctx.run("eintr_storm", "connect-unix", preload="none", log=False)
    expect(ref.exit == 1 and "connect: -1 EINTR" in ref.lines and "getpeername: -1 ENOTCONN" in ref.lines,
           "expected the connect to fail with EINTR without the library, unconnected", ref)


def eintr_connect_unix_never_room(ctx):
    """The same with no room ever made: after SOCKDIAG_RETRY_MAX retries
    the program gets EINTR, and the socket is unconnected, as without the
    library (the retry never says 0 for a connect that did not happen)."""
    run = ctx.run("eintr_storm", "connect-unix-full", env={"SOCKDIAG_RETRY": "eintr", "SOCKDIAG_RETRY_MAX": "5"})
    expect_exit(run, 1)
    expect_line(run, "connect: -1 EINTR")
    expect_line(run, "getpeername: -1 ENOTCONN")
    n = expect_retries(run, "connect", "EINTR")
    expect(n == 5, f"expected 5 retries (SOCKDIAG_RETRY_MAX=5), got {n}", run)
    same_as_without_library(ctx, run, "eintr_storm", "connect-unix-full", keys=["connect", "getpeername"])


def eintr_keeps_rcvtimeo(ctx):
    run = ctx.run("eintr_storm", "recv-rcvtimeo", env={"SOCKDIAG_RETRY": "eintr"})
    expect_exit(run, 1)
    expect(run.value("recv") in ("-1 EAGAIN", "-1 EINTR"),
           "expected recv to fail when the program's own 100 ms SO_RCVTIMEO runs out", run)
    elapsed = run.number("elapsed_ms")
    expect(elapsed < 1000, f"expected the program's 100 ms SO_RCVTIMEO to be kept under the storm (elapsed < 1000 ms; "
           f"each retry must not restart the timeout), got {elapsed:.0f} ms", run)


def eintr_partial_recv(ctx):
    run = ctx.run("eintr_storm", "recv-waitall", env={"SOCKDIAG_RETRY": "eintr"})
    expect_exit(run, 0)
    expect_line(run, "recv: 4 OK")
    expect_line(run, "data: half")
    expect_no_retries(run)
    same_as_without_library(ctx, run, "eintr_storm", "recv-waitall", keys=["recv", "data"])


def eintr_pipe_left_alone(ctx):
    run = ctx.run("eintr_storm", "pipe-read", env={"SOCKDIAG_RETRY": "eintr"})
    expect_line(run, "read: -1 EINTR")
    expect_no_retries(run)


def eintr_text_summary(ctx):
    run = ctx.run("eintr_storm", "recv", env={"SOCKDIAG_RETRY": "eintr", "SOCKDIAG_FORMAT": "text"})
    expect_exit(run, 0)
    lines = [l for l in run.log_text.splitlines() if l.startswith("sockdiag summary")]
    expect([l for l in lines if re.search(r"\brecv\s+EINTR\s+\d+ retries$", l)],
           f"expected a text summary line 'sockdiag summary eintr_storm[PID] recv EINTR N retries', got {lines}", run)


# ---- EAGAIN -------------------------------------------------------------------------

def eagain_waited_out(mode, call):
    def case(ctx):
        run = ctx.run("eagain_giveup", mode, env={"SOCKDIAG_RETRY": "eagain"})
        expect_exit(run, 0)
        expect(re.fullmatch(r"\d+ OK", run.value(call)) is not None, f"expected {call} to succeed", run)
        n = expect_retries(run, call, "EAGAIN")
        # Never a busy loop: one wait for readiness, then the call again.
        expect(n == 1, f"expected one retry (a poll wait, not a loop), got {n}", run)
        waited = run.retry_records()[0]["waited_ms"]
        expect(waited >= 50, f"expected the retry to wait for the peer (~200 ms), waited_ms {waited}", run)
        if mode in ("recv-late", "read-late"):
            expect_line(run, "data: pong")
    return case


def eagain_bound(ctx):
    run = ctx.run("eagain_giveup", "recv-never",
                  env={"SOCKDIAG_RETRY": "eagain", "SOCKDIAG_RETRY_TIMEOUT_MS": "300", "SOCKDIAG_LEVEL": "debug"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    elapsed = run.number("elapsed_ms")
    expect(290 <= elapsed < 5000, f"expected recv to give up after SOCKDIAG_RETRY_TIMEOUT_MS=300 "
           f"(290 <= elapsed < 5000 ms), got {elapsed:.0f} ms", run)
    expect_no_retries(run)
    expect(run.with_code("EAGAIN", "recv"), "expected the final recv EAGAIN record (level debug)", run)


def eagain_not_retried(mode, env):
    call = "recv"

    def case(ctx):
        run = ctx.run("eagain_giveup", mode, env=env)
        expect_exit(run, 1)
        expect_line(run, f"{call}: -1 EAGAIN")
        expect_no_retries(run)
    return case


def eagain_nothing_configured(ctx):
    run = ctx.run("eagain_giveup", "recv-late")
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    expect_no_retries(run)
    same_as_without_library(ctx, run, "eagain_giveup", "recv-late", keys=["recv"])


def eagain_limited_to_calls(ctx):
    run = ctx.run("eagain_giveup", "recv-late", env={"SOCKDIAG_RETRY": "eagain@send"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    expect_no_retries(run)
    for spec in ("eagain@recv", "eagain@recvfrom+send", "eintr,eagain@recv"):
        run = ctx.run("eagain_giveup", "recv-late", env={"SOCKDIAG_RETRY": spec})
        expect_exit(run, 0)
        expect_line(run, "recv: 4 OK")


def eagain_pipe_left_alone(ctx):
    run = ctx.run("eagain_giveup", "pipe-late", env={"SOCKDIAG_RETRY": "eagain"})
    expect_line(run, "read: -1 EAGAIN")
    expect_no_retries(run)


# ---- ECONNABORTED (test stub) ---------------------------------------------------

def econnaborted_keeps_serving(call):
    def case(ctx):
        run = ctx.run("accept_server", call, env={"SOCKDIAG_RETRY": "econnaborted"}, preload="lib+stub")
        expect_exit(run, 0)
        expect_line(run, "served: 2")
        expect_line(run, "client 2: pong")
        expect_line(run, "client 3: pong")
        n = expect_retries(run, call, "ECONNABORTED")
        expect(n == 1, f"expected one retry, got {n}", run)
        expect(not [r for r in run.with_code("ECONNABORTED") if not r.get("retrying")],
               "expected no ECONNABORTED failure record", run)
    return case


def econnaborted_injected(ctx):
    # Fault injection makes accept fail once without taking a connection.
    run = ctx.run("accept_server", "accept", env={"SOCKDIAG_RETRY": "econnaborted",
                                                  "SOCKDIAG_INJECT": "accept:error=ECONNABORTED:times=1"})
    expect_exit(run, 0)
    expect_line(run, "served: 2")
    expect_line(run, "client 1: pong")
    expect_line(run, "client 2: pong")
    n = expect_retries(run, "accept", "ECONNABORTED")
    expect(n == 1, f"expected one retry, got {n}", run)


def econnaborted_seen(env):
    def case(ctx):
        run = ctx.run("accept_server", "accept", env=env, preload="lib+stub")
        expect_exit(run, 1)
        expect_line(run, "accept: -1 ECONNABORTED")
        expect_no_retries(run)
        recs = run.with_code("ECONNABORTED", "accept")
        expect(len(recs) == 1 and recs[0].get("retries") == 0, "expected one accept ECONNABORTED record", run)
        same_as_without_library(ctx, run, "accept_server", "accept", keys=["accept", "served"],
                                preload_without="stub")
    return case


# ---- SIGPIPE ---------------------------------------------------------------------------

NOTE_WOULD_DIE = "would have ended the process"


def epipe_records(run, call="write"):
    return run.with_code("EPIPE", call)


def expect_epipe_record(run, call, note_part):
    recs = epipe_records(run, call)
    expect(len(recs) == 1, f"expected one EPIPE record for {call}", run)
    expect(note_part in recs[0].get("note", ""), f"expected the EPIPE record's note to say '{note_part}'", run)
    return recs[0]


def sigpipe_survives(target, call, mode_env):
    def case(ctx):
        run = ctx.run("sigpipe_write", target, "dfl", call, env=mode_env)
        expect_exit(run, 0)
        expect_line(run, f"{call}: -1 EPIPE")
        expect_line(run, "handler: 0")
        expect_line(run, "pending: 0")
        rec = expect_epipe_record(run, call, NOTE_WOULD_DIE)
        if target.startswith("tcp"):
            expect(re.fullmatch(r"127\.0\.0\.1:\d+", rec.get("peer", "")) is not None,
                   "expected the record to name the peer that closed", run)
        if target == "tcp-eof":
            expect(isinstance(rec.get("peer_gone_ms_ago"), (int, float)),
                   "expected the record to say when the peer closed (peer_gone_ms_ago)", run)
        ref = ctx.run("sigpipe_write", target, "dfl", call, preload="none")
        expect_killed_by_sigpipe(ref)
    return case


def sigpipe_every_socket_call(ctx):
    for call in ("write", "writev", "send", "sendto", "sendmsg"):
        run = ctx.run("sigpipe_write", "unix", "dfl", call)
        expect_exit(run, 0)
        expect_line(run, f"{call}: -1 EPIPE")
        expect_epipe_record(run, call, NOTE_WOULD_DIE)


def sigpipe_ignore_mode(disp, lines, note_part):
    def case(ctx):
        run = ctx.run("sigpipe_write", "unix", disp, "write")
        expect_exit(run, 0)
        expect_line(run, "write: -1 EPIPE")
        for line in lines:
            expect_line(run, line)
        expect_epipe_record(run, "write", note_part)
    return case


def sigpipe_keep(target, disp, lines):
    """Under keep the program behaves exactly as without the library, and
    the EPIPE record is in the log."""
    def case(ctx):
        run = ctx.run("sigpipe_write", target, disp, "write", env={"SOCKDIAG_SIGPIPE": "keep"})
        if disp == "dfl":
            expect_killed_by_sigpipe(run)
        else:
            expect_exit(run, 0)
            expect_line(run, "write: -1 EPIPE")
        for line in lines:
            expect_line(run, line)
        expect(len(epipe_records(run)) == 1, "expected the EPIPE record in the log", run)
        same_as_without_library(ctx, run, "sigpipe_write", target, disp, "write",
                                keys=["write", "handler", "pending", "handler_thread"])
    return case


def sigpipe_program_nosignal(mode_env):
    """A program that sends with its own MSG_NOSIGNAL never gets SIGPIPE,
    whatever its disposition: the kernel would not raise it."""
    def case(ctx):
        for disp in ("dfl", "handler", "blocked"):
            run = ctx.run("sigpipe_write", "unix", disp, "send-nosignal", env=mode_env)
            expect_exit(run, 0)
            expect_line(run, "send-nosignal: -1 EPIPE")
            expect_line(run, "handler: 0")
            expect_line(run, "pending: 0")
            same_as_without_library(ctx, run, "sigpipe_write", "unix", disp, "send-nosignal",
                                    keys=["send-nosignal", "handler", "pending"])
    return case


def sigpipe_pipe_writer_dies(ctx):
    modes = [("without libsockdiag", "none", {}), ("nothing configured", "lib", {}),
             ("SOCKDIAG_SIGPIPE=ignore", "lib", {"SOCKDIAG_SIGPIPE": "ignore"}),
             ("SOCKDIAG_SIGPIPE=keep", "lib", {"SOCKDIAG_SIGPIPE": "keep"})]
    for target, call in (("pipe", "write"), ("pipe", "writev"), ("fifo", "write")):
        for _, preload, env in modes:
            run = ctx.run("sigpipe_write", target, "dfl", call, env=env, preload=preload)
            expect_killed_by_sigpipe(run)
            expect(not run.with_code("EPIPE"), "expected no EPIPE record for a pipe", run)


def sigpipe_nothing_configured(ctx):
    run = ctx.run("sigpipe_write", "unix", "dfl", "write", log=False)
    expect_exit(run, 0)
    expect_line(run, "write: -1 EPIPE")
    expect("EPIPE" in run.stderr and NOTE_WOULD_DIE in run.stderr,
           "expected the EPIPE record, with its note, on stderr", run)
    ref = ctx.run("sigpipe_write", "unix", "dfl", "write", preload="none")
    expect_killed_by_sigpipe(ref)


# ---- Nothing configured ------------------------------------------------------------

def nothing_retried(ctx):
    for mode in ("recv", "accept", "connect", "poll", "epoll_wait"):
        call = BLOCKING[mode][0] if mode in BLOCKING else mode
        run = ctx.run("eintr_storm", mode, log=False)
        expect_exit(run, 1)
        expect_line(run, f"{call}: -1 EINTR")
        same_as_without_library(ctx, run, "eintr_storm", mode, keys=[call])
    run = ctx.run("eagain_giveup", "recv-late", log=False)
    same_as_without_library(ctx, run, "eagain_giveup", "recv-late", keys=["recv"])
    run = ctx.run("accept_server", "accept", preload="lib+stub", log=False)
    same_as_without_library(ctx, run, "accept_server", "accept", keys=["accept", "served"], preload_without="stub")


# ---- Settings ------------------------------------------------------------------------

def bad_settings(values):
    def case(ctx):
        accepted = []
        for name, value in values:
            run = ctx.run("eagain_giveup", "recv-dontwait", env={name: value}, log=False)
            lines = run.stderr.strip().splitlines()
            if not (run.exit == 78 and not run.lines and len(lines) == 1 and lines[0].startswith(f"sockdiag: {name}")):
                accepted.append(f"{name}={value!r}: {run.ending()}, stderr {lines}")
        expect(not accepted, "expected each of these settings to be refused before main, with exit status 78 and "
               "one line 'sockdiag: NAME: ...' on stderr:\n" + "\n".join(accepted))
    return case


# ---- The cases -------------------------------------------------------------------------

CASES = {}
for _mode in BLOCKING:
    CASES[f"eintr {_mode} retried"] = eintr_retried(_mode)
CASES["eintr connect called again only once the handshake is over"] = eintr_connect_no_ealready
CASES["eintr unix connect made again until connected"] = eintr_connect_unix
CASES["eintr unix connect never connected stays unconnected"] = eintr_connect_unix_never_room
for _call in WAITS:
    CASES[f"eintr {_call} retried with the remaining timeout"] = wait_on_time(_call)
for _call in WAITS:
    CASES[f"eintr {_call} counts time spent in handlers"] = wait_counts_handler_time(_call)
for _mode in list(BLOCKING) + WAITS:
    CASES[f"eintr {_mode} seen without eintr"] = eintr_seen_without_retry(_mode)
CASES["eintr retry max"] = eintr_retry_max
CASES["eintr limited to calls"] = eintr_limited_to_calls
CASES["eintr connect wait bounded"] = eintr_connect_bound
CASES["eintr connect refused after the wait"] = eintr_connect_refused
CASES["eintr keeps the program's SO_RCVTIMEO"] = eintr_keeps_rcvtimeo
CASES["eintr partial recv returned as is"] = eintr_partial_recv
CASES["eintr pipe read left alone"] = eintr_pipe_left_alone
CASES["eintr retries in the text summary"] = eintr_text_summary
for _mode, _call in (("recv-late", "recv"), ("read-late", "read"), ("accept-late", "accept"),
                     ("send-late", "send")):
    CASES[f"eagain {_call} waited out"] = eagain_waited_out(_mode, _call)
CASES["eagain bound reached"] = eagain_bound
CASES["eagain seen without eagain"] = eagain_nothing_configured
CASES["eagain MSG_DONTWAIT not retried"] = eagain_not_retried("recv-dontwait", {"SOCKDIAG_RETRY": "eagain"})
CASES["eagain SO_RCVTIMEO not retried"] = eagain_not_retried("recv-rcvtimeo", {"SOCKDIAG_RETRY": "eagain"})
CASES["eagain limited to calls"] = eagain_limited_to_calls
CASES["eagain pipe read left alone"] = eagain_pipe_left_alone
CASES["econnaborted accept server keeps serving"] = econnaborted_keeps_serving("accept")
CASES["econnaborted accept4 server keeps serving"] = econnaborted_keeps_serving("accept4")
CASES["econnaborted injected accept server keeps serving"] = econnaborted_injected
CASES["econnaborted seen without econnaborted"] = econnaborted_seen({})
CASES["econnaborted not retried by eintr and eagain"] = econnaborted_seen({"SOCKDIAG_RETRY": "eintr,eagain"})
CASES["sigpipe default socket writer survives"] = sigpipe_survives("unix", "write", {})
CASES["sigpipe ignore socket writer survives"] = sigpipe_survives("unix", "write", {"SOCKDIAG_SIGPIPE": "ignore"})
CASES["sigpipe default tcp writer survives and the record names the peer"] = sigpipe_survives("tcp", "write", {})
CASES["sigpipe default record says when the peer closed"] = sigpipe_survives("tcp-eof", "write", {})
CASES["sigpipe default every socket write call"] = sigpipe_every_socket_call
CASES["sigpipe default program handler still runs"] = sigpipe_ignore_mode(
    "handler", ["handler: 1", "record_before_handler: yes"], "to the program's own handler")
CASES["sigpipe default program SIG_IGN respected"] = sigpipe_ignore_mode(
    "ign", ["handler: 0", "pending: 0"], "ignores SIGPIPE itself")
CASES["sigpipe default blocked SIGPIPE not raised"] = sigpipe_ignore_mode(
    "blocked", ["handler: 0", "pending: 0"], "not raised")
CASES["sigpipe keep SIG_DFL dies by signal 13 after the record"] = sigpipe_keep("unix", "dfl", [])
CASES["sigpipe keep tcp SIG_DFL dies by signal 13 after the record"] = sigpipe_keep("tcp", "dfl", [])
CASES["sigpipe keep handler runs after the record"] = sigpipe_keep(
    "unix", "handler", ["handler: 1", "record_before_handler: yes"])
CASES["sigpipe keep blocked stays pending"] = sigpipe_keep("unix", "blocked", ["handler: 0", "pending: 1"])
CASES["sigpipe keep program SIG_IGN respected"] = sigpipe_keep("unix", "ign", ["handler: 0", "pending: 0"])
CASES["sigpipe keep delivered to the writing thread"] = sigpipe_keep(
    "unix", "thread", ["handler: 1", "handler_thread: writer"])
CASES["sigpipe default program's MSG_NOSIGNAL respected"] = sigpipe_program_nosignal({})
CASES["sigpipe keep program's MSG_NOSIGNAL respected"] = sigpipe_program_nosignal({"SOCKDIAG_SIGPIPE": "keep"})
CASES["sigpipe pipe writer dies in every mode"] = sigpipe_pipe_writer_dies
CASES["nothing configured socket write returns EPIPE"] = sigpipe_nothing_configured
CASES["nothing configured nothing retried"] = nothing_retried
CASES["settings bad retry values refused"] = bad_settings([
    ("SOCKDIAG_RETRY", "eintr,bogus"), ("SOCKDIAG_RETRY", "eagain@connect"), ("SOCKDIAG_RETRY", "eintr@close"),
    ("SOCKDIAG_RETRY", "econnaborted@recv"), ("SOCKDIAG_RETRY", "eintr@nosuchcall"),
    ("SOCKDIAG_RETRY_TIMEOUT_MS", "soon"), ("SOCKDIAG_RETRY_TIMEOUT_MS", "-1"), ("SOCKDIAG_RETRY_MAX", "x"),
    ("SOCKDIAG_SIGPIPE", "maybe")])
CASES["settings empty call list refused"] = bad_settings([
    ("SOCKDIAG_RETRY", "eintr@"), ("SOCKDIAG_RETRY", "eagain@recv+"), ("SOCKDIAG_RETRY", "eintr@+poll")])


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib", help="libsockdiag.so")
    parser.add_argument("--stub", help="libtest_stub_econnaborted.so")
    parser.add_argument("--bin", help="the directory of the test programs")
    args = parser.parse_args()
    # A case's name is its id and its title.
    return list_or_run(parser, args, {name: (name, fn) for name, fn in CASES.items()}, ("lib", "stub", "bin"),
                       lambda a: Context(a.lib, a.stub, a.bin))


if __name__ == "__main__":
    sys.exit(main())
