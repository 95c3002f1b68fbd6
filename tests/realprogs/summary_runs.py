"""The runs of a real-program scenario beyond modes.py's three, for servers
and clients alike: a run of every program under `sockdiag run --summary
--format json` at the default level, and a run with injected faults
(SOCKDIAG_INJECT, then `sockdiag run --inject`) compared with the real
fault. Each program under `sockdiag run` has its records in a log
directory of its own; its tree summary, the last line of its stderr, is
taken off that stderr (the scenario sees what it would see without the
library) and must count exactly what its records show: the failures by
call and code with their processes and injections, the totals, by peer and
by rule. Expected flow (EAGAIN, EINPROGRESS, EOF) is not written at the
default level and must not be counted among the failures either.

A scenario's program started under `sockdiag run` either has a stderr file
of the mode's (err_file(), read back without the summary by read_err()),
or is ended with finish(), which takes the summary off its piped stderr
(or stdout, where stderr goes there)."""
import collections
import glob
import json
import os
import subprocess
import tempfile
import time

from daemon_control import children, free_port
from harness import Failure, Run, expect, expect_eq
from modes import Mode, describe, three_runs
from record_stream import stream_records
from sdtest import kill_group


def under_sanitizer(left_out):
    """tools/sanitize.sh: an instrumented library needs the sanitizer's
    runtime in front of it in LD_PRELOAD, and `sockdiag run` puts the
    library first, so the summary runs are the normal suite's (and the
    sockdiag command is not built there). Says what is `left_out`."""
    if os.environ.get("SOCKDIAG_TEST_PRELOAD_FIRST"):
        print(f"note: under a sanitizer, {left_out}")
        return True
    return False


def sockdiag_command(h):
    path = os.path.join(h.build_dir, "tools", "sockdiag", "sockdiag")
    expect(os.access(path, os.X_OK), f"{path} is not built (cmake --build build --target sockdiag)")
    return path


def normal_form(h, rule):
    """The rule as the library writes it in records and summaries, from
    `sockdiag check`."""
    check = subprocess.run([sockdiag_command(h), "check", "--inject", rule], capture_output=True, text=True,
                           timeout=30, env=h.env(preload=False))
    expect(check.returncode == 0, f"sockdiag check refused the rule {rule!r}: {check.stderr}")
    lines = [line[len("inject = "):] for line in check.stdout.splitlines() if line.startswith("inject = ")]
    expect_eq(len(lines), 1, f"normal forms of {rule!r} printed by sockdiag check", check.stdout)
    return lines[0]


def split_tree(text):
    """(the program's own output, the tree summary or None) from the stderr
    of `sockdiag run --summary --format json`: the summary is its last
    line, written after the program ended (after its last byte, which may
    not have been a newline), and the only one."""
    body = text[:-1] if text.endswith("\n") else text
    start = body.rfind("\n") + 1
    # The program's last line may have no newline: the summary starts at
    # its last '{"' that parses as a tree summary.
    pos = len(body)
    while (pos := body.rfind('{"', start, pos)) >= 0:
        try:
            tree = json.loads(body[pos:])
        except json.JSONDecodeError:
            continue
        if isinstance(tree, dict) and tree.get("summary") == "tree":
            expect('"summary":"tree"' not in text[:pos], "more than one tree summary on one stderr", text[-3000:])
            return text[:pos], tree
    return text, None


class RunMode(Mode):
    """modes.Mode (plain, default or trace) with the injection rules
    `rules`; with `via_run` every program runs under `sockdiag run
    --summary` at the default level (it sets the library's variables
    itself), with `--inject` for each rule."""

    def __init__(self, h, name, rules=(), via_run=False):
        super().__init__(h, name)
        self.rules, self.via_run = list(rules), via_run
        self.preload = self.preload and not via_run
        self.sockdiag = sockdiag_command(h) if via_run else None
        self.started = {}  # pid of `sockdiag run` -> (argv, log directory, stderr file or None)
        self.trees = {}  # pid of `sockdiag run` -> tree summary
        # Processes of a program that drops privileges (nginx's workers, as
        # nobody) write their own log files here.
        os.chmod(self.h.tmp, 0o755)
        os.chmod(self.logdir, 0o777)

    def settings(self):
        s = None if self.via_run else super().settings()
        if s is not None and self.rules:
            s["INJECT"] = ";".join(self.rules)
        return s

    def wrap(self, argv):
        """(the command that runs `argv`, its log directory or None)."""
        if not self.via_run:
            return list(argv), None
        logdir = tempfile.mkdtemp(prefix="tree-", dir=self.logdir)
        os.chmod(logdir, 0o777)
        command = [self.sockdiag, "run", "--summary", "--format", "json", "--log", os.path.join(logdir, "log.%p")]
        for rule in self.rules:
            command += ["--inject", rule]
        return command + ["--"] + [str(a) for a in argv], logdir

    def note(self, proc, argv, logdir, stderr):
        if self.via_run:
            self.started[proc.pid] = (argv, logdir, getattr(stderr, "name", None))
        return proc

    def start(self, argv, stderr=subprocess.PIPE, prefix=(), **kw):
        """`prefix`: a command that runs the rest as another user (setpriv),
        also in front of `sockdiag run`, which then runs as that user as one
        would run it: a program executed after a privilege drop cannot open
        the summary file that `sockdiag run` created as root (the library
        then stops it with status 78)."""
        wrapped, logdir = self.wrap(argv)
        return self.note(super().start(list(prefix) + wrapped, stderr=stderr, **kw), argv, logdir, stderr)

    def popen(self, argv, extra=None, **kw):
        wrapped, logdir = self.wrap(argv)
        return self.note(super().popen(wrapped, extra=extra, **kw), argv, logdir, kw.get("stderr"))

    def run(self, argv, timeout=40, **kw):
        if not self.via_run:
            return super().run(argv, timeout=timeout, **kw)
        return Run(argv, *finish(self, self.start(argv, **kw), timeout))

    def program_pid(self, proc):
        """The pid of the program `proc` started: under `sockdiag run`, its
        child."""
        if not self.via_run:
            return proc.pid
        deadline = time.monotonic() + 30
        while not (found := children(proc.pid)):
            expect(time.monotonic() < deadline and proc.poll() is None, f"sockdiag run {proc.pid} started no program")
            time.sleep(0.05)
        expect_eq(len(found), 1, f"programs that sockdiag run {proc.pid} started", found)
        return found[0]

    def err_file(self, tag, read_write=False):
        """A file for a program's stderr; `read_write`: opened for reading
        too, as a terminal is."""
        return open(os.path.join(self.logdir, f"stderr.{tag}"), "w+b" if read_write else "wb")

    def read_err(self, f):
        with open(f.name, encoding="utf-8", errors="replace") as text:
            return split_tree(text.read())[0]

    def take(self, proc, text):
        """`text` (what `proc` wrote to its stderr) without its tree summary,
        which is kept."""
        argv = self.started[proc.pid][0]
        own, tree = split_tree(text)
        expect(tree is not None, f"sockdiag run --summary printed no tree summary for {argv[0]}", text[-3000:])
        self.trees[proc.pid] = tree
        return own

    def summaries(self):
        """(argv, tree summary, records) of every program started (call once
        they ended); the summaries still in stderr files are read there."""
        found = []
        for pid, (argv, logdir, err_path) in self.started.items():
            if pid not in self.trees:
                expect(err_path is not None, f"the tree summary of {argv[0]} was not taken (finish() it)")
                with open(err_path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                _, self.trees[pid] = split_tree(text)
                expect(self.trees[pid] is not None, f"no tree summary in {err_path}", text[-3000:])
            records = []
            for path in sorted(glob.glob(os.path.join(logdir, "log.*"))):
                records.extend(stream_records(path))
            found.append((argv, self.trees[pid], records))
        return found


def finish(mode, proc, timeout=40):
    """(exit status, stdout, stderr) of a program `mode` started, as text
    ("" for a stream not piped); under `sockdiag run` without the tree
    summary (which is kept), from stderr, or from stdout when stderr goes
    there."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise Failure(f"{' '.join(map(str, proc.args))} did not finish within {timeout} s")
    out, err = (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
    if getattr(mode, "via_run", False):
        if proc.stderr is not None:
            err = mode.take(proc, err)
        else:
            out = mode.take(proc, out)
    return proc.returncode, out, err


def expect_counts(argv, tree, records, dropped=0):
    """A program's tree summary counts exactly what its records (default
    level: failures only) say, and `dropped` failures whose record was lost
    and counted as such (a process out of fds cannot make its %p log)."""
    what = f"the tree summary of {os.path.basename(str(argv[0]))} {' '.join(map(str, argv[1:]))[:100]}"
    detail = f"{json.dumps(tree, indent=1)}\n--- records ---\n{describe(records, 40)}"
    failures = [r for r in records if r["level"] == "error"]
    expect_eq(len(failures), len(records), "records at the default level that are errors, of all",
              describe(records, 40))
    want = collections.defaultdict(lambda: [0, 0, set()])
    for r in failures:
        row = want[(r["call"], r["code"])]
        row[0] += 1
        row[1] += r["injected"] is True
        row[2].add(f"{r['prog']}[{r['pid']}]")
    got = {(c["call"], c["code"]): [c["count"], c["injected"], set(c["processes"])] for c in tree["counts"]
           if c["level"] == "error"}
    want = dict(want)
    # Rows (or parts of rows) counted with no record: the dropped ones.
    lost = sum(row[0] - (want[key][0] if key in want else 0) for key, row in got.items())
    expect_eq(lost, dropped, f"{what}: failures counted with no record (dropped: {dropped})", detail)
    if dropped:
        got = {key: [want[key][0], row[1], want[key][2]] for key, row in got.items() if key in want}
    expect_eq(got, want, f"{what}: failures [count, injected, processes] by call and code vs the records",
              detail)
    expect_eq((tree["failures"], tree["injected"]),
              (len(failures) + dropped, sum(r["injected"] is True for r in failures)),
              f"{what}: failures and injected failures vs the records", detail)
    rules = {r["rule"]: r["injected"] for r in tree["rules"] if r["injected"]}
    expect_eq(rules, dict(collections.Counter(r["rule"] for r in records if r["rule"])),
              f"{what}: injections by rule vs the records", detail)
    peers = {p["peer"]: p["failures"] for p in tree["peers"]}
    expect_eq(peers, dict(collections.Counter(r["peer"] for r in failures if r["peer"])),
              f"{what}: failures by peer vs the records", detail)
    expect_eq((tree["still_running"], tree["counted_at_exit_only"], tree["records_dropped"],
               sum(tree["unlisted"].values()), tree["unreadable_lines"]), (False, [], dropped, 0, 0),
              f"{what}: still running, counted at exit only, dropped, unlisted, unreadable", detail)


def summary_run(h, scenario, reference, rules=(), name="summary", healthy=False, dropped=0):
    """Runs `scenario` with every program under `sockdiag run --summary`
    (with `rules`); what it shows must be `reference`, and every program's
    tree summary must count exactly its records; `healthy`: there are none.
    Returns the records, or None under a sanitizer (no such run)."""
    if under_sanitizer("no sockdiag run --summary run"):
        return None
    mode = RunMode(h, name, rules, via_run=True)
    result = scenario(mode)
    expect_eq(result, reference, "what the programs showed under sockdiag run --summary vs the reference run")
    summaries = mode.summaries()
    expect(summaries, "no program of the scenario ran under sockdiag run --summary")
    for argv, tree, records in summaries:
        expect_counts(argv, tree, records, dropped if tree["records_dropped"] else 0)
    records = [r for _, _, records in summaries for r in records]
    if healthy:
        expect_eq(len(records), 0, "records of a healthy run under sockdiag run", describe(records))
    return records


def four_runs(h, scenario, traced_calls, healthy=True, dropped=0):
    """modes.three_runs (each run a RunMode), then the same scenario under
    `sockdiag run --summary`: the same result, no record for a healthy run,
    and summaries that count the records. runs["summary"] = (result,
    records), except under a sanitizer."""
    runs = three_runs(h, scenario, traced_calls, healthy, make_mode=RunMode)
    records = summary_run(h, scenario, runs["plain"][0], healthy=healthy, dropped=dropped)
    if records is not None:
        runs["summary"] = (runs["plain"][0], records)
    return runs


def default_runs(runs):
    """The names of the default-level runs in `runs` (four_runs')."""
    return [name for name in ("default", "summary") if name in runs]


def expect_records(runs, wanted, keys=("prog", "call", "code", "peer", "injected")):
    """In every default-level run of `runs` (four_runs'), the records'
    fields `keys` are `wanted` (tuples, in order)."""
    for name in default_runs(runs):
        records = runs[name][1]
        expect_eq([tuple(r[key] for key in keys) for r in records], wanted, f"records at the default level ({name})",
                  describe(records))


def injected_runs(h, scenario, rules, reference, what="the programs", detail=None):
    """Runs `scenario` with `rules` at the default level (SOCKDIAG_INJECT)
    and under `sockdiag run --summary --inject` (summaries checked); each
    must show `reference`, what the real fault showed without the library.
    `detail(name)`: more to show if a run does not. Returns {run name:
    records}."""
    mode = RunMode(h, "injected", rules)
    result = scenario(mode)
    runs = {"injected": mode.records()}
    expect_eq(result, reference, f"what {what} showed with the injected fault vs with the real one",
              detail("injected") if detail else describe(runs["injected"], 40))
    records = summary_run(h, scenario, reference, rules, name="injected-summary")
    if records is not None:
        runs["injected-summary"] = records
    return runs


def expect_marked(h, runs, rule, wanted, total):
    """In every run of `runs` (injected_runs'), the records of injected
    faults are exactly `wanted` ((prog, call, code, peer, via) tuples, in
    order), each marked injected by `rule` in its normal form (from
    `sockdiag check`; under a sanitizer, which has no sockdiag command, by
    one same rule); a real failure's names none; `total` records in all."""
    text = None if under_sanitizer("rules are not compared with sockdiag check's") else normal_form(h, rule)
    for name, records in runs.items():
        injected = [r for r in records if r["injected"]]
        expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["via"]) for r in injected], wanted,
                  f"records of the injected faults ({name})", describe(records, 40))
        for rec in injected:
            expect_eq((rec["level"], rec["rule"]), ("error", text or injected[0]["rule"] or rule),
                      f"level and rule of an injected fault's record ({name})", describe(injected))
        expect(all(r["rule"] == "" for r in records if not r["injected"]),
               f"a record of a real failure names a rule ({name})", describe(records, 40))
        expect_eq(len(records), total, f"records at the default level ({name})", describe(records, 40))


def injected_refusal(h, prog, start, attempt, plain, via, what, stop_status=True):
    """The refusal of `prog`'s connect injected (rule: ECONNREFUSED for a
    free port and `prog`) while a live server, `start(mode, port)`, listens
    on that port: `attempt(mode, port)` must show `plain`, what the real
    refusal showed without the library, and the server must stop with
    status 0 if `stop_status`; the one record is the injected connect,
    marked, its fault seen through `via`."""
    port = free_port()
    rule = f"connect:error=ECONNREFUSED:port={port}:prog={prog}"

    def injected(mode):
        server = start(mode, port)
        try:
            got = attempt(mode, port)
        finally:
            status = server.stop()
        return (got, status) if stop_status else got

    faults = injected_runs(h, injected, [rule], (plain, 0) if stop_status else plain, what)
    expect_marked(h, faults, rule, [(prog, "connect", "ECONNREFUSED", f"127.0.0.1:{port}", via)], 1)
