"""Load: 32 threads at trace level with probabilistic faults and a 1 kHz
timer signal, fork and exec storms, thread cancellation in blocked calls.
No crash or hang (every run is bounded), every record a complete JSON line,
and the records add up: to the program's own counts of its calls, and to
the library's exit summary."""
import collections
import glob
import os

from harness import case, expect, expect_eq, read_text
from record_stream import Summary, stream_records

THREADS = 32
# Injection notices: a record of their own, next to the call's trace record.
NOTICE_PREFIX = "INJECTED_"
RULES = ("send:delay=1us:prob=0.001", "recv:short=8:prob=0.01", "recv:error=EINTR:prob=0.001")
IO_CALLS = ("send", "recv", "write", "read")


def program_counts(run):
    """stress_io's own counts: calls[call], errors[(call, code)], and its
    signal counters."""
    calls, errors, other = {}, {}, {}
    for line in run.lines():
        words = line.split()
        if words[0] == "calls":
            calls[words[1]] = int(words[2])
        elif words[0] == "errors":
            errors[(words[1], words[2])] = int(words[3])
        else:
            other[" ".join(words[:-1])] = int(words[-1])
    return calls, errors, other


def thread_load(h, timer):
    log, summary_path = h.path("trace.log"), h.path("summary.json")
    settings = {"LEVEL": "trace", "FORMAT": "json", "LOG": log, "SUMMARY": summary_path, "SEED": 20261127,
                "INJECT": "; ".join(RULES)}
    run = h.run([h.prog("stress_io"), THREADS, h.calls, timer], settings=settings, timeout=60 + h.calls // 250)
    run.expect_rc(0)
    expect_eq(run.err, "", "stress_io's stderr")
    calls, errors, other = program_counts(run)

    call_records = collections.Counter()   # (call) -> trace records of the I/O calls on the connections
    error_records = collections.Counter()  # (call, code) -> records of failed I/O calls on the connections
    by_code = collections.Counter()        # (call, code) -> records with a code, any fd
    injected_by_code = collections.Counter()
    by_rule = collections.Counter()
    worker_tids, pids = set(), set()
    total = handler_records = 0
    for rec in stream_records(log):
        total += 1
        pids.add(rec["pid"])
        key = (rec["call"], rec["code"])
        if rec["code"]:
            by_code[key] += 1
            injected_by_code[key] += rec["injected"]
        if rec["injected"]:
            by_rule[rec["rule"]] += 1
        if rec["kind"] == "tcp4" and rec["call"] in IO_CALLS and not rec["code"].startswith(NOTICE_PREFIX):
            call_records[rec["call"]] += 1
            if rec["errno"]:
                error_records[key] += 1
            worker_tids.add(rec["tid"])
        elif rec["call"] == "sendto" and not rec["code"]:
            handler_records += 1
    detail = f"{total} records; program: {run.out}"
    expect_eq(len(pids), 1, "processes in the log", detail)
    pid = pids.pop()
    expect_eq(len(worker_tids), THREADS, "threads with I/O records", detail)
    # Each intercepted call on the connections has exactly one trace record.
    expect_eq(dict(call_records), calls, "trace records per call vs the calls the program made", detail)
    expect_eq(dict(error_records), errors, "records of failed calls vs the failures the program saw", detail)

    summary = Summary(summary_path)
    counted = {(call, code): n for (p, call, code), n in summary.counts.items() if p == pid}
    recorded = {key: (by_code[key], injected_by_code[key]) for key in by_code}
    # Every failure, event and injection notice: records == summary's count,
    # and records marked injected == summary's injected count.
    expect_eq(recorded, counted, "records per (call, code) as (count, injected) vs the summary's", detail)
    per_rule = {rule: n for (p, rule), n in summary.injections.items() if p == pid}
    expect_eq(dict(by_rule), per_rule, "records per injection rule vs the summary's inject counts", detail)
    for rule in RULES:
        expect(per_rule.get(rule, 0) > 0, f"rule {rule} never injected: the test proves nothing about it", detail)

    expect(other["signals"] > 0, "the 1 kHz timer never fired", detail)
    expect(other["handler sendto"] > 0, "the signal handler's sendto never succeeded", detail)
    # The handler's sendto is recorded unless the signal interrupted a hook
    # on that thread (then it goes straight to libc): never more.
    expect(handler_records <= other["handler sendto"],
           f"{handler_records} trace records of the signal handler's sendto for {other['handler sendto']} calls", detail)


@case("32 threads trace inject timer SA_RESTART")
def threads_restart(h):
    thread_load(h, "restart")


@case("32 threads trace inject timer no SA_RESTART")
def threads_norestart(h):
    thread_load(h, "norestart")


# ---- fork and exec storm ----------------------------------------------------
CHILDREN, PER_CHILD = 200, 10


def fork_storm(h, log):
    """Runs fork_storm at the default level with records in `log` (a %p
    pattern or one file); returns the expected number of records per pid."""
    run = h.run([h.prog("fork_storm"), CHILDREN, PER_CHILD], settings={"LOG": log, "FORMAT": "json"}, timeout=120)
    run.expect_rc(0).expect_out("children failed 0")
    expect_eq(run.err, "", "fork_storm's stderr")
    wanted = {int(run.value("parent ")): int(run.value("logger refused "))}
    kinds = collections.Counter()
    for line in run.lines():
        words = line.split()
        if words[0] == "child":
            wanted[int(words[1])] = PER_CHILD * (2 if words[2] == "exec" else 1)
            kinds[words[2]] += 1
        elif words[0] == "grandchild":
            wanted[int(words[1])] = PER_CHILD
    expect_eq(sum(kinds.values()), CHILDREN, "children the program reported", run.describe())
    expect_eq(len(wanted), 1 + CHILDREN + kinds["forker"], "processes (parent, children, grandchildren)")
    return run, wanted


def refused_per_pid(path, per_pid, where):
    for rec in stream_records(path):
        expect_eq((rec["call"], rec["code"]), ("connect", "ECONNREFUSED"), f"a record in {where}")
        per_pid[rec["pid"]] += 1


@case("fork exec storm 200 children per-pid logs")
def fork_storm_per_pid(h):
    os.mkdir(h.path("logs"))
    run, wanted = fork_storm(h, h.path("logs/log.%p"))
    files = {int(os.path.basename(p).split(".")[1]): p for p in glob.glob(h.path("logs/log.*"))}
    expect_eq(sorted(files), sorted(wanted), "pids with a log file")
    for pid, path in files.items():
        per_pid = collections.Counter()
        refused_per_pid(path, per_pid, path)
        # A child's file holds its own records only, all of them: none of the
        # parent's (forked while its logger thread was writing), none lost.
        expect_eq(dict(per_pid), {pid: wanted[pid]}, f"records per pid in the file of pid {pid}")


@case("fork exec storm 200 children one shared log")
def fork_storm_shared(h):
    log = h.path("shared.log")
    run, wanted = fork_storm(h, log)
    per_pid = collections.Counter()
    refused_per_pid(log, per_pid, log)  # a cut or interleaved line fails here
    expect_eq(dict(per_pid), wanted, "records per pid in the shared log")


# ---- thread cancellation ------------------------------------------------------
CANCEL_ROUNDS = 350  # 50 of each blocking call


@case("cancel threads blocked in recv accept read poll select epoll")
def cancel_storm(h):
    log = h.path("trace.log")
    run = h.run([h.prog("cancel_storm"), CANCEL_ROUNDS], settings={"LEVEL": "trace", "FORMAT": "json", "LOG": log},
                timeout=120)
    run.expect_rc(0).expect_out(f"rounds {CANCEL_ROUNDS}", f"canceled {CANCEL_ROUNDS}",
                                f"cleanups {CANCEL_ROUNDS}", "fds leaked 0", "pingpong ok")
    expect_eq(run.err, "", "cancel_storm's stderr")
    calls = collections.Counter(rec["call"] for rec in stream_records(log))
    # The library ran all along: the ping-pong thread's calls are there, and
    # one accept per round that made a connection (6 rounds in 7; in the
    # seventh the accept is the call that blocks and is cancelled).
    expect(calls["send"] > 0 and calls["recv"] > 0, f"no ping-pong records: {dict(calls)}", read_text(log)[:2000])
    expect_eq(calls["accept"], CANCEL_ROUNDS * 6 // 7, "accept records", dict(calls))
