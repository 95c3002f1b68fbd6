"""A fourth run of a real-program scenario: each program it starts runs
under `sockdiag run --summary --format json` at the default level (with the
scenario's injection rules, if any), its records in a log directory of its
own. The tree summary that `run` prints last on the program's stderr is
taken off that stderr (the scenario sees what it would see without the
library) and must count exactly what the records show: the failures by
call and code, how many of them were injected, by peer and by rule.
Expected flow (EAGAIN, EINPROGRESS, EOF) is not written at the default level
and must not be counted among the failures either."""
import collections
import glob
import json
import os
import subprocess
import tempfile

from harness import Failure, Run, expect, expect_eq
from modes import Mode, describe
from proof import stream_records
from sdtest import kill_group


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


def split_tree(err):
    """(the program's own stderr, the tree summary) from the stderr of
    `sockdiag run --summary --format json`: the summary is its last line,
    written after the program ended (after its last byte, which may not
    have been a newline). The summary is None when there is none."""
    body = err[:-1] if err.endswith("\n") else err
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
            return err[:pos], tree
    return err, None


class SummaryMode(Mode):
    """Runs each program of a scenario as `sockdiag run --summary ... --
    PROGRAM`; `finish()` gives a started program's status and output
    without the summary."""

    def __init__(self, h, rules=()):
        super().__init__(h, "summary")
        self.sockdiag = sockdiag_command(h)
        self.rules = list(rules)
        self.trees = []  # (argv, log directory, tree summary)
        self.logdirs = {}  # pid of `sockdiag run` -> (argv, log directory)

    def wrap(self, argv):
        logdir = tempfile.mkdtemp(prefix="tree-", dir=self.logdir)
        command = [self.sockdiag, "run", "--summary", "--format", "json", "--log", os.path.join(logdir, "log.%p")]
        for rule in self.rules:
            command += ["--inject", rule]
        return command + ["--"] + [str(a) for a in argv], logdir

    def start(self, argv, extra=None, **kw):
        wrapped, logdir = self.wrap(argv)
        proc = self.h.start(wrapped, preload=False, extra=extra, **kw)
        self.logdirs[proc.pid] = (argv, logdir)
        return proc

    def popen(self, argv, extra=None, **kw):
        wrapped, logdir = self.wrap(argv)
        proc = subprocess.Popen(wrapped, env=self.h.env(False, None, extra), start_new_session=True, **kw)
        self.h.processes.append(proc)
        self.logdirs[proc.pid] = (argv, logdir)
        return proc

    def run(self, argv, timeout=40, extra=None, cwd=None):
        proc = self.start(argv, extra=extra, cwd=cwd)
        return Run(argv, *finish(self, proc, timeout))

    def take(self, proc, err):
        argv, logdir = self.logdirs[proc.pid]
        own, tree = split_tree(err)
        expect(tree is not None, f"sockdiag run --summary printed no tree summary for {argv[0]}", err[-3000:])
        self.trees.append((argv, logdir, tree))
        return own

    def records(self):
        records = []
        for _, logdir, _ in self.trees:
            for path in sorted(glob.glob(os.path.join(logdir, "log.*"))):
                records.extend(stream_records(path))
        return records


def finish(mode, proc, timeout=40):
    """(exit status, stdout, stderr) of a program `mode` started, as text
    ("" for a stream not piped); under a SummaryMode without the tree
    summary (which is kept), from stderr, or from stdout when stderr goes
    there."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise Failure(f"{' '.join(map(str, proc.args))} did not finish within {timeout} s")
    out, err = (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
    if isinstance(mode, SummaryMode):
        if proc.stderr is not None:
            err = mode.take(proc, err)
        else:
            out = mode.take(proc, out)
    return proc.returncode, out, err


def summarised(h, scenario, reference, rules=()):
    """Runs `scenario` in a SummaryMode with `rules`; what it shows must be
    `reference`, and every program's tree summary must count exactly its
    records. Returns the records."""
    if os.environ.get("SOCKDIAG_TEST_PRELOAD_FIRST"):
        # tools/sanitize.sh: an instrumented library needs the sanitizer's
        # runtime in front of it in LD_PRELOAD, and `sockdiag run` puts the
        # library first. The summary runs are the normal suite's.
        print("note: no sockdiag run --summary run under a sanitizer")
        return []
    mode = SummaryMode(h, rules)
    result = scenario(mode)
    expect_eq(result, reference, "what the programs showed under sockdiag run --summary vs the reference run")
    expect(mode.trees, "no program of the scenario ran under sockdiag run --summary")
    for argv, logdir, tree in mode.trees:
        records = []
        for path in sorted(glob.glob(os.path.join(logdir, "log.*"))):
            records.extend(stream_records(path))
        expect_counts(argv, tree, records)
    return mode.records()


def expect_counts(argv, tree, records):
    what = f"the tree summary of {os.path.basename(str(argv[0]))} {' '.join(map(str, argv[1:]))[:100]}"
    detail = f"{json.dumps(tree, indent=1)}\n--- records ---\n{describe(records, 40)}"
    failures = [r for r in records if r["level"] == "error"]
    expect_eq(len(failures), len(records), "records at the default level that are errors, of all",
              describe(records, 40))
    recorded = collections.Counter((r["call"], r["code"]) for r in failures)
    injected = collections.Counter((r["call"], r["code"]) for r in failures if r["injected"])
    counted = {(c["call"], c["code"]): (c["count"], c["injected"]) for c in tree["counts"] if c["level"] == "error"}
    expect_eq(counted, {key: (n, injected[key]) for key, n in recorded.items()},
              f"{what}: failures (count, injected) by call and code vs the records", detail)
    expect_eq((tree["failures"], tree["injected"]), (len(failures), sum(injected.values())),
              f"{what}: failures and injected failures vs the records", detail)
    rules = {r["rule"]: r["injected"] for r in tree["rules"] if r["injected"]}
    expect_eq(rules, dict(collections.Counter(r["rule"] for r in failures if r["injected"])),
              f"{what}: injections by rule vs the records", detail)
    peers = {p["peer"]: p["failures"] for p in tree["peers"]}
    expect_eq(peers, dict(collections.Counter(r["peer"] for r in failures if r["peer"])),
              f"{what}: failures by peer vs the records", detail)
    expect_eq((tree["still_running"], tree["counted_at_exit_only"], tree["records_dropped"], tree["unlisted"],
               tree["unreadable_lines"]), (False, [], 0, 0, 0),
              f"{what}: still running, counted at exit only, dropped, unlisted, unreadable", detail)
