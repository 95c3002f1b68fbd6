"""Threads, fork and thread cancellation under the library."""
import collections
import glob
import json
import os

from harness import case, expect, expect_eq, read_records, select_records

THREADS, PER_THREAD = 8, 200


@case("threads records complete with own tid")
def threads(h):
    run = h.run_logged([h.prog("threads_refused"), THREADS, PER_THREAD], timeout=60).expect_rc(0)
    tids = {}
    for line in run.lines():
        words = line.split()
        if words[:1] == ["tid"]:
            tids[int(words[1])] = int(words[3])
    expect_eq(len(tids), THREADS, "threads that reported", run.describe())
    expect_eq(set(tids.values()), {PER_THREAD}, "refused connects each thread saw", run.out)
    refused = select_records(run.records, call="connect", code="ECONNREFUSED")
    expect_eq(len(refused), THREADS * PER_THREAD, "ECONNREFUSED records", f"{len(run.records)} records in all")
    expect_eq(len(run.records), len(refused), "records other than the refused connects (the ping-pongs succeed)",
              "\n".join(str(r) for r in run.records if r.get("code") != "ECONNREFUSED")[:3000])
    per_tid = collections.Counter(r["tid"] for r in refused)
    expect_eq(dict(per_tid), {tid: PER_THREAD for tid in tids}, "records per thread id")
    expect_eq(len({r["pid"] for r in refused}), 1, "pids in the records")


def fork_run(h, log):
    run = h.run([h.prog("fork_refused"), 3, 100], settings={"LOG": log, "FORMAT": "json"}, timeout=60)
    run.expect_rc(0).expect_out("children failed: 0")
    parent = int(run.value("parent"))
    children = [int(line.split()[1]) for line in run.lines() if line.startswith("child ")]
    expect_eq(len(children), 3, "children that reported", run.describe())
    return run, parent, children


@case("fork one log file per pid")
def fork_per_pid(h):
    pattern = h.path("fork.%p")
    run, parent, children = fork_run(h, pattern)
    files = sorted(glob.glob(h.path("fork.*")))
    wanted = sorted(h.path(f"fork.{pid}") for pid in [parent] + children)
    expect_eq(files, wanted, "log files (one per process, named by %p)", run.describe())
    for pid in [parent] + children:
        records = read_records(h.path(f"fork.{pid}"))
        # The parent's main thread and its background thread make 100 each.
        expect_eq(len(records), 200 if pid == parent else 100, f"records in the file of pid {pid}")
        expect_eq({r["pid"] for r in records}, {pid}, f"pids in the file of pid {pid}")
        expect_eq({(r["call"], r["code"]) for r in records}, {("connect", "ECONNREFUSED")}, f"records of pid {pid}")
        if pid != parent:
            expect_eq({r["tid"] for r in records}, {pid}, f"tids in the file of child {pid}")


@case("fork one shared log never interleaves")
def fork_shared(h):
    log = h.path("shared.log")
    run, parent, children = fork_run(h, log)
    records = read_records(log)  # fails on any cut or interleaved line
    per_pid = collections.Counter(r["pid"] for r in records)
    wanted = {parent: 200}
    wanted.update({pid: 100 for pid in children})
    expect_eq(dict(per_pid), wanted, "records per pid in the shared log", run.describe())
    expect(all(r["code"] == "ECONNREFUSED" for r in records), "records other than ECONNREFUSED in the shared log")


def check_cancel(h, what):
    for level in ("error", "trace"):
        run = h.run_logged([h.prog("cancel_blocked"), what], settings={"LEVEL": level}, timeout=30)
        run.expect_rc(0).expect_out("cancel: OK", "join: OK, canceled")
        expect("the blocking call returned" not in run.out, f"{what} returned instead of being cancelled",
               run.describe())
        expect_eq(select_records(run.records, level="error"), [], f"error records at level {level}", run.describe())
        if level == "trace":
            expect(select_records(run.records, call="socket"), "no trace record: the library did not run",
                   run.describe())


@case("thread cancel while blocked in recv")
def cancel_recv(h):
    check_cancel(h, "recv")


@case("thread cancel while blocked in accept")
def cancel_accept(h):
    check_cancel(h, "accept")


def handler_run(h, mode, count):
    """handler_calls under the library and without it: the same output
    shape and exit status; under it, the records of every refused connect."""
    plain = h.run([h.prog("handler_calls"), mode, count], preload=False, timeout=60).expect_rc(0)
    run = h.run_logged([h.prog("handler_calls"), mode, count], timeout=60).expect_rc(0)
    expect_eq([line.split()[0] for line in run.lines()], [line.split()[0] for line in plain.lines()],
              "lines printed (with and without the library)", run.describe())
    return run


@case("signal handler socket calls inside a hook are recorded")
def handler_calls(h):
    run = handler_run(h, "handler", 3000)
    expect_eq(int(run.value("main")), 3000, "refused connects of the main thread", run.describe())
    handler = int(run.value("handler"))
    expect(handler > 0, "the timer's handler never ran", run.describe())
    refused = select_records(run.records, call="connect", code="ECONNREFUSED")
    expect_eq(len(refused), 3000 + handler, "ECONNREFUSED records (main thread + handler)",
              f"{len(run.records)} records in all")
    expect_eq(len(run.records), len(refused), "records other than the refused connects")


@case("child forked in a signal handler records its failures")
def handler_fork(h):
    run = handler_run(h, "fork", 40)
    main = int(run.value("main"))
    expect_eq(int(run.value("children")), 40, "children forked by the handler", run.describe())
    refused = select_records(run.records, call="connect", code="ECONNREFUSED")
    per_pid = collections.Counter(r["pid"] for r in refused)
    expect_eq(len(per_pid), 41, "processes with records (the parent and each child)", str(dict(per_pid)))
    expect_eq(sorted(per_pid.values()), sorted([5] * 40 + [main]), "records per process", str(dict(per_pid)))


@case("first failure of a process in a signal handler and in a forked child is recorded")
def handler_first_use(h):
    # The library binds libc lazily: its record path's first run, with
    # every first call of a libc function in it, is inside a signal handler
    # in the parent and in a child forked before any record.
    run = handler_run(h, "first", 1)
    expect_eq(int(run.value("handler")), 1, "refused connects in the handler", run.describe())
    expect_eq(int(run.value("children")), 1, "children whose connect was refused", run.describe())
    refused = select_records(run.records, call="connect", code="ECONNREFUSED")
    per_pid = collections.Counter(r["pid"] for r in refused)
    expect_eq(sorted(per_pid.values()), [1, 1], "records per process (the child, the parent's handler)",
              str(dict(per_pid)))
    expect_eq(len(run.records), 2, "records in all", run.describe())


@case("vfork child closing a socket keeps the parent's connection")
def vfork_child_close(h):
    fields = ("call", "code", "kind", "peer", "bytes_sent", "bytes_received")
    seen = {}
    for mode in ("plain", "vfork"):
        plain = h.run([h.prog("vm_children"), mode], preload=False).expect_rc(0)
        run = h.run_logged([h.prog("vm_children"), mode]).expect_rc(0)
        expect_eq(run.out, plain.out, f"output of the {mode} run with and without the library", run.describe())
        resets = select_records(run.records, call="recv", code="ECONNRESET")
        expect_eq(len(resets), 1, f"ECONNRESET records of the {mode} run", run.describe())
        seen[mode] = {k: resets[0].get(k) for k in fields}
    seen["plain"]["peer"] = seen["vfork"]["peer"] = "(port)" if seen["vfork"]["peer"] else ""
    expect_eq(seen["vfork"], seen["plain"], "the reset's record after a vfork child closed its copy of the socket")


@case("clone CLONE_VM child neither garbles nor steals records")
def clone_vm_child(h):
    argv = [h.prog("vm_children"), "clone", 300]
    plain = h.run(argv, preload=False).expect_rc(0)
    run = h.run_logged(argv, settings={"SUMMARY": "1"}, timeout=60).expect_rc(0)
    expect_eq(run.out, plain.out, "output with and without the library", run.describe())
    # read_records fails on any broken line; the child's calls pass through.
    refused = [r for r in select_records(run.records, call="connect", code="ECONNREFUSED") if "summary" not in r]
    expect_eq(len(refused), 300, "ECONNREFUSED records (the parent's)", run.describe())
    expect_eq(len({r["pid"] for r in refused}), 1, "pids in the records")
    # The child's socket, connect and close of each attempt: said, not lost.
    unobserved = [r for r in run.records if r.get("summary") == "unobserved"]
    expect_eq([r.get("memory_sharing_children") for r in unobserved], [900],
              "calls of the clone child said in the summary as not observed", run.describe())


# Threads each drain their own sockets to EAGAIN (waves of them, so that
# later threads count where exited ones did), then a forked child does the
# same: every summary gives exactly what the calls returned, the child's
# counts apart from its parent's.
EAGAIN_ARGV = ("threads_eagain", 4, 300, 3)
EAGAIN_ROWS = {"recv_eagain": ("recv", "EAGAIN"), "accept_eagain": ("accept4", "EAGAIN"),
               "connect_einprogress": ("connect", "EINPROGRESS")}


def eagain_said(run):
    """{pid: {(call, code): n}} from the program's lines, parent first."""
    said = {}
    for line in run.lines():
        pid, *fields = line.split()
        said[int(pid)] = {EAGAIN_ROWS[k]: int(v) for k, v in (f.split("=") for f in fields)}
    expect_eq(len(said), 2, "processes that said what their calls returned (parent, child)", run.describe())
    return said


def eagain_run(h, argv, **kw):
    run = h.run(argv, timeout=60, **kw).expect_rc(0)
    said = eagain_said(run)
    threads, calls, waves = EAGAIN_ARGV[1:]
    parent, child = said.values()
    expect_eq(parent[("recv", "EAGAIN")], (1 + threads * waves) * calls, "recv EAGAIN of the parent", run.describe())
    expect_eq(child[("recv", "EAGAIN")], 2 * calls, "recv EAGAIN of the child", run.describe())
    return run, said


@case("summary counts the EAGAIN of every thread exactly, a forked child apart")
def threads_eagain_summary(h):
    argv = [h.prog(EAGAIN_ARGV[0])] + list(EAGAIN_ARGV[1:])
    eagain_run(h, argv, preload=False)  # the same calls return the same without the library
    path = h.path("summary.jsonl")
    run, said = eagain_run(h, argv, settings={"SUMMARY": path})
    rows = [json.loads(line) for line in open(path)]
    counted = collections.defaultdict(dict)
    for r in rows:
        if r.get("summary") == "count":
            counted[r["pid"]][(r["call"], r["code"])] = r["count"]
    for pid, calls in said.items():
        got = {key: counted[pid].get(key, 0) for key in calls}
        expect_eq(got, calls, f"the exit summary of pid {pid} against what its calls returned",
                  f"{run.describe()}\nsummary:\n{open(path).read()}")

    # The tree's summary: the table shared by every process of the tree.
    sockdiag = os.path.join(h.build_dir, "tools", "sockdiag", "sockdiag")
    run, said = eagain_run(h, [sockdiag, "run", "--summary", "--format", "json", "--"] + argv, preload=False)
    trees = [json.loads(line) for line in run.err.splitlines() if line.startswith("{") and '"tree"' in line]
    expect_eq(len(trees), 1, "tree summaries", run.describe())
    tree = trees[0]
    expect_eq(tree["processes"], 2, "processes in the tree summary", run.describe())
    expect(not tree["counted_at_exit_only"] and not tree["still_running"], "every count in the table", run.describe())
    got = {(c["call"], c["code"]): c["count"] for c in tree["counts"]}
    for key in EAGAIN_ROWS.values():
        expect_eq(got.get(key, 0), sum(calls[key] for calls in said.values()),
                  f"{key} of the tree against what the calls of both processes returned", run.describe())


@case("threads with the smallest stacks start and record as without the library")
def small_stacks(h):
    # glibc carves static TLS out of each thread's stack and refuses
    # pthread_create (EINVAL) when a small stack size cannot hold it: the
    # library keeps its per-thread memory elsewhere (thread_block.h). 90
    # waves of 50 threads: more threads than that memory's pool has slots,
    # so the blocks of ended threads are taken over, and no record is lost.
    if os.environ.get("SOCKDIAG_TEST_PRELOAD_FIRST"):
        print("note: under a sanitizer, whose runtime needs more stack than 16 KiB threads have: left out")
        return
    argv = [h.prog("small_stacks"), 90, 50]
    plain = h.run(argv, preload=False, timeout=120).expect_rc(0)
    expect_eq(plain.out, "created 4500 failed 0 refused 4500\n", "the program alone", plain.describe())
    run = h.run_logged(argv, timeout=120).expect_rc(0)
    expect_eq(run.out, plain.out, "the program under the library", run.describe())
    refused = select_records(run.records, call="connect", code="ECONNREFUSED")
    expect_eq(len(refused), 4500, "ECONNREFUSED records, one per thread", f"{len(run.records)} records in all")
    expect_eq(len(run.records), 4500, "records in all (a record dropped says so in a line of its own)")
