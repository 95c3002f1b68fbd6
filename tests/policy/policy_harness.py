"""Running the small C programs of this directory under libsockdiag (and,
for comparison, without it or under the test stub alone) for the tests of
the retry and SIGPIPE policies (README, Recovery policies), and the checks
their cases share: what a program printed, how it ended (exit status or
signal), and the JSON records and summary lines of its SOCKDIAG_LOG file.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
# Failure, Skipped, case and expect are also the case modules' own.
from sdtest import (CASES, Failure, ProcessHarness, Skipped, case, expect, inherited_env,  # noqa: E402,F401
                    parse_records, preload_value, read_text)

RUN_TIMEOUT_S = 30  # every program run; the slowest case needs ~3 s

WAITS = ["poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait"]

BLOCKING = {  # mode: (call, success line)
    "recv": ("recv", "recv: 4 OK"),
    "send": ("send", "send: 1 OK"),
    "accept": ("accept", None),
    "connect": ("connect", "connect: 0 OK"),
}


class Run:
    """One finished program run: its output, its end, its log."""

    def __init__(self, desc, returncode, stdout, stderr, log_text, json_log):
        self.desc = desc
        self.stdout = stdout
        self.stderr = stderr
        self.lines = stdout.splitlines()
        self.exit = returncode if returncode >= 0 else None
        self.signal = -returncode if returncode < 0 else None
        self.log_text = log_text
        self.records = []
        self.summaries = []
        for obj in parse_records(log_text, f"the log of {desc}") if json_log else []:
            (self.summaries if "summary" in obj else self.records).append(obj)

    def ending(self):
        return f"killed by signal {self.signal}" if self.signal else f"exit status {self.exit}"

    def __str__(self):
        return self.context()

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


class Harness(ProcessHarness):
    """Runs the programs of `bindir` under libsockdiag (`lib`), the test
    stub that makes accept fail with ECONNABORTED (`stub`), both, or
    neither."""

    def __init__(self, lib, stub, bindir):
        super().__init__(lib, bindir, "sockdiag-policy-")
        self.stub = os.path.abspath(stub)
        self.count = 0

    def run(self, prog, *args, env=None, preload="lib", log=True, wrap=()):
        """Runs bindir/prog. preload: "lib", "lib+stub", "stub" or "none".
        log: records go, as JSON at level info, to a file of their own (the
        settings in `env` win); without it only `env` is set."""
        self.count += 1
        full = inherited_env()
        libs = {"lib": [self.lib], "lib+stub": [self.lib, self.stub], "stub": [self.stub], "none": []}[preload]
        if libs:
            full["LD_PRELOAD"] = preload_value(":".join(libs))
        log_path = self.path(f"log-{self.count}.json")
        extra = {}
        if log and preload != "none":
            extra = {"SOCKDIAG_LOG": log_path, "SOCKDIAG_FORMAT": "json", "SOCKDIAG_LEVEL": "info",
                     "SOCKDIAG_SUMMARY": "1"}
        extra.update(env or {})
        full.update(extra)
        argv = list(wrap) + [self.prog(prog)] + list(args)
        shown = " ".join(f"{k}={v}" for k, v in extra.items() if k != "SOCKDIAG_LOG")
        preloaded = {"lib": "", "lib+stub": " (LD_PRELOAD libsockdiag + test stub)",
                     "stub": " (LD_PRELOAD test stub only)", "none": " (without libsockdiag)"}[preload]
        desc = f"{shown} {' '.join(argv)}{preloaded}".strip()
        # The child gets SIGPIPE at its default whatever this process has
        # (Popen's restore_signals).
        rc, out, err = self.finish(self.spawn(argv, full), [desc], RUN_TIMEOUT_S)
        text = read_text(log_path) if os.path.exists(log_path) else ""
        return Run(desc, rc, out, err, text, full.get("SOCKDIAG_FORMAT") == "json")


# ---- Checks the case modules share -------------------------------------------------

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


def same_as_without_library(h, run, prog, *args, keys, preload_without="none"):
    """The run's lines for `keys` and its ending equal those of a run
    without libsockdiag."""
    ref = h.run(prog, *args, preload=preload_without, log=False)
    mine = [l for l in run.lines if l.split(":")[0] in keys]
    theirs = [l for l in ref.lines if l.split(":")[0] in keys]
    expect(mine == theirs and run.ending() == ref.ending(),
           f"expected the same output and ending as without libsockdiag:\n{theirs} ({ref.ending()})",
           run)
