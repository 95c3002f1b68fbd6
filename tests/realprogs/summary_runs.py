"""The runs of the server programs' cases beyond modes.py's three: a run
with fault rules (SOCKDIAG_INJECT), and a run of every program under
`sockdiag run --summary --format json`, whose tree summaries (one per
program started, on its stderr) must count exactly what its records say.

A program started under `sockdiag run` has its summary as the last line
of its stderr: a scenario gives every program it starts a stderr file of
the mode's (err_file) and reads it back without the summary (read_err)."""
import collections
import json
import os
import time

from daemon_control import children
from harness import Failure, Run, expect, expect_eq
from modes import Mode, describe, three_runs


def sockdiag_command(h):
    path = os.path.join(h.build_dir, "tools", "sockdiag", "sockdiag")
    expect(os.access(path, os.X_OK), f"the sockdiag command {path} is not built (target sockdiag)")
    return path


def split_trees(text):
    """(the text without the tree-summary lines, the tree summaries)."""
    kept, trees = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("{") and '"summary":"tree"' in line:
            trees.append(json.loads(line))
        else:
            kept.append(line)
    return "".join(kept), trees


class RunMode(Mode):
    """modes.Mode (plain, default or trace), with the rules `inject` if
    given; with `via_run` every program runs under `sockdiag run --summary`
    at the default level (it sets the library's variables itself)."""

    def __init__(self, h, name, inject=None, via_run=False):
        super().__init__(h, name)
        self.inject, self.via_run = inject, via_run
        self.preload = self.preload and not via_run
        self.trees = []
        self.err_files = []
        # Processes of a program that drops privileges (nginx's workers, as
        # nobody) write their own log files here.
        os.chmod(self.h.tmp, 0o755)
        os.chmod(self.logdir, 0o777)

    def settings(self):
        s = None if self.via_run else super().settings()
        if s is not None and self.inject:
            s["INJECT"] = self.inject
        return s

    def wrap(self, argv):
        if not self.via_run:
            return argv
        extra = ["--inject", self.inject] if self.inject else []
        return [sockdiag_command(self.h), "run", "--summary", "--format", "json", "--log",
                os.path.join(self.logdir, "log.%p")] + extra + ["--"] + list(argv)

    def run(self, argv, **kw):
        run = super().run(self.wrap(argv), **kw)
        run.err, trees = split_trees(run.err)
        if self.via_run:
            expect_eq(len(trees), 1, f"tree summaries of {argv[0]} under sockdiag run", run.err)
            self.trees.extend(trees)
        return Run(argv, run.rc, run.out, run.err)

    def start(self, argv, stderr=None, prefix=(), **kw):
        """`prefix`: a command that runs the rest as another user (setpriv),
        also in front of `sockdiag run`, which then runs as that user as one
        would run it: a program executed after a privilege drop cannot open
        the summary file that `sockdiag run` created as root (the library
        then stops it with status 78)."""
        expect(stderr is not None and hasattr(stderr, "name"), "a program started by a case needs err_file()")
        self.err_files.append(stderr.name)
        return super().start(list(prefix) + self.wrap(argv), stderr=stderr, **kw)

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

    def popen(self, argv, extra=None, **kw):
        raise Failure("RunMode starts programs with start() or run() only")

    def err_file(self, tag, read_write=False):
        """A file for a program's stderr; `read_write`: opened for reading
        too, as a terminal is."""
        return open(os.path.join(self.logdir, f"stderr.{tag}"), "w+b" if read_write else "wb")

    def read_err(self, f):
        with open(f.name, encoding="utf-8", errors="replace") as text:
            return split_trees(text.read())[0]

    def collect_trees(self):
        """The summaries of the started programs (call once they ended)."""
        for path in self.err_files:
            with open(path, encoding="utf-8", errors="replace") as f:
                _, trees = split_trees(f.read())
            expect_eq(len(trees), 1, f"tree summaries in {path}", open(path, errors="replace").read()[-3000:])
            self.trees.extend(trees)


def check_summary(trees, records):
    """The tree summaries of a run under `sockdiag run --summary`, added up,
    count what the run's records (default level: failures only) say: every
    failure by call and code, with its process, peer and injections; and
    nothing else as a failure (expected flow, such as EAGAIN on a
    non-blocking socket, is not a failure)."""
    detail = "records:\n" + describe(records, 60) + "\nsummaries:\n" + "\n".join(json.dumps(t) for t in trees)
    failures = [r for r in records if r["level"] == "error"]
    want = collections.defaultdict(lambda: [0, 0, set()])
    for r in failures:
        row = want[(r["call"], r["code"])]
        row[0] += 1
        row[1] += r["injected"] is True
        row[2].add(f"{r['prog']}[{r['pid']}]")
    got = collections.defaultdict(lambda: [0, 0, set()])
    peers, rules = collections.Counter(), collections.Counter()
    for t in trees:
        expect(not t["still_running"], "a tree still ran when its summary was made", detail)
        expect_eq(t["counted_at_exit_only"], [], "processes that could not share the counter table", detail)
        expect_eq((t["unlisted"], t["unreadable_lines"], t["records_dropped"]), (0, 0, 0),
                  "failures not listed, unreadable lines, records dropped", detail)
        for c in t["counts"]:
            if c["level"] != "error":
                continue
            row = got[(c["call"], c["code"])]
            row[0] += c["count"]
            row[1] += c["injected"]
            row[2].update(c["processes"])
        for p in t["peers"]:
            peers[p["peer"]] += p["failures"]
        for r in t["rules"]:
            rules[r["rule"]] += r["injected"]
    expect_eq(dict(got), dict(want), "the summaries' failures by (call, code): [count, injected, processes]", detail)
    expect_eq(sum(t["failures"] for t in trees), len(failures), "the summaries' total of failures", detail)
    expect_eq(sum(t["injected"] for t in trees), sum(r["injected"] is True for r in failures),
              "the summaries' total of injected failures", detail)
    want_peers = collections.Counter(r["peer"] for r in failures if r["peer"])
    expect_eq(dict(peers), dict(want_peers), "the summaries' failures by peer", detail)
    want_rules = collections.Counter(r["rule"] for r in records if r.get("rule"))
    expect_eq({k: v for k, v in rules.items() if v}, dict(want_rules), "the summaries' injections by rule", detail)


def summary_run(h, scenario, inject=None, name="summary"):
    """Runs `scenario` with every program under `sockdiag run --summary`;
    checks the summaries against the records. Returns (result, records)."""
    mode = RunMode(h, name, inject=inject, via_run=True)
    result = scenario(mode)
    mode.collect_trees()
    records = mode.records()
    check_summary(mode.trees, records)
    return result, records


def four_runs(h, scenario, traced_calls, healthy=True):
    """modes.three_runs, then the same scenario under `sockdiag run
    --summary`: the same result, no record for a healthy run, and
    summaries that count the records. runs["summary"] = (result, records)."""
    runs = three_runs(h, scenario, traced_calls, healthy, make_mode=RunMode)
    result, records = summary_run(h, scenario)
    expect_eq(result, runs["plain"][0], "what the programs showed under sockdiag run --summary vs without the library")
    if healthy:
        expect_eq(len(records), 0, "records of a healthy run under sockdiag run", describe(records))
    runs["summary"] = (result, records)
    return runs


def injected_runs(h, scenario, inject):
    """`scenario` under the library with the rules `inject`, once with
    LD_PRELOAD and once under `sockdiag run --summary --inject`. Returns
    {name: (result, records)}."""
    mode = RunMode(h, "injected", inject=inject)
    runs = {"injected": (scenario(mode), mode.records())}
    runs["injected-summary"] = summary_run(h, scenario, inject=inject, name="injected-summary")
    expect_eq(runs["injected-summary"][0], runs["injected"][0], "what the programs showed under sockdiag run --inject "
              "vs with the rules in SOCKDIAG_INJECT")
    return runs

