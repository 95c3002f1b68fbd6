"""Running programs under libsockdiag and reading what it recorded.

Every program runs in a process group of its own, so that it and anything it
forks are killed when a case ends, fails or times out. Records are read from a
log file of their own (SOCKDIAG_LOG) in JSON, apart from the program's output.
"""
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

CASES = {}


def preload_value(libs):
    """LD_PRELOAD for `libs`. SOCKDIAG_TEST_PRELOAD_FIRST (tools/sanitize.sh:
    a sanitizer's runtime, which must be loaded before any library
    instrumented with it) goes in front."""
    first = os.environ.get("SOCKDIAG_TEST_PRELOAD_FIRST")
    return f"{first}:{libs}" if first else libs


class Failure(Exception):
    """A check of a case did not hold."""


def case(title):
    """Registers a test case under its CTest title."""
    def register(fn):
        ident = title.replace(" ", "-").replace(":", "").replace("(", "").replace(")", "").replace(",", "")
        if ident in CASES:
            raise ValueError(f"two cases named {ident}")
        CASES[ident] = (title, fn)
        return fn
    return register


def expect(condition, message, detail=None):
    if not condition:
        raise Failure(message if detail is None else f"{message}\n--- detail ---\n{detail}")


def expect_eq(actual, wanted, what, detail=None):
    expect(actual == wanted, f"{what}: expected {wanted!r}, got {actual!r}", detail)


class Run:
    """What a finished program did."""

    def __init__(self, argv, rc, out, err, records=None, log=None):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.records = records
        self.log = log

    def describe(self):
        text = f"command: {' '.join(map(str, self.argv))}\nexit status: {self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        if self.log is not None:
            text += f"\nlog ({self.log}):\n{read_text(self.log)}"
        return text

    def lines(self):
        return self.out.splitlines()

    def expect_rc(self, wanted=0):
        expect_eq(self.rc, wanted, "exit status", self.describe())
        return self

    def expect_out(self, *wanted_lines):
        """Each of `wanted_lines` is one whole line of stdout."""
        lines = self.lines()
        for line in wanted_lines:
            expect(line in lines, f"the program did not print the line {line!r}", self.describe())
        return self

    def value(self, prefix):
        """The rest of the first stdout line that starts with `prefix`."""
        for line in self.lines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        raise Failure(f"the program printed no line starting with {prefix!r}\n{self.describe()}")


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return "(no such file)"


def parse_records(text, where):
    """Every line must be one complete JSON object: a cut or interleaved
    record does not parse."""
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise Failure(f"line {n} of {where} is not a complete JSON record ({e}): {line[:300]!r}")
        expect(isinstance(rec, dict), f"line {n} of {where} is not a JSON object: {line[:300]!r}")
        records.append(rec)
    return records


def read_records(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return parse_records(f.read(), path)


def select_records(records, **match):
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def only_record(run, **match):
    """The one record of `run`, which must match `match`."""
    expect_eq(len(run.records), 1, "number of records", run.describe())
    rec = run.records[0]
    for key, wanted in match.items():
        expect_eq(rec.get(key), wanted, f"record field {key}", run.describe())
    return rec


class Harness:
    def __init__(self, lib, progs, build_dir):
        self.lib = os.path.abspath(lib)
        self.preload = preload_value(self.lib)
        self.progs = os.path.abspath(progs)
        self.build_dir = os.path.abspath(build_dir)
        self.tmp = tempfile.mkdtemp(prefix="sockdiag-itest-")
        self.cleanup_paths = [self.tmp]
        self.processes = []
        self.log_count = 0

    # ---- files ----
    def path(self, name):
        return os.path.join(self.tmp, name)

    def prog(self, name):
        path = os.path.join(self.progs, name)
        expect(os.access(path, os.X_OK), f"test program {path} is not built")
        return path

    def new_log(self, stem="log"):
        self.log_count += 1
        return self.path(f"{stem}.{self.log_count}")

    # ---- environment ----
    def env(self, preload=True, settings=None, extra=None):
        """The test's own environment without any SOCKDIAG_ variable or
        preload of the caller; `settings` are SOCKDIAG_ variables without
        the prefix (LOG, LEVEL, ...)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKDIAG_") and k != "LD_PRELOAD"}
        env["LC_ALL"] = "C"
        if preload:
            env["LD_PRELOAD"] = self.preload
        for key, value in (settings or {}).items():
            env["SOCKDIAG_" + key] = str(value)
        env.update(extra or {})
        return env

    # ---- processes ----
    def start(self, argv, preload=True, settings=None, extra=None, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=None):
        proc = subprocess.Popen([str(a) for a in argv], env=self.env(preload, settings, extra), stdout=stdout,
                                stderr=stderr, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.processes.append(proc)
        return proc

    def run(self, argv, preload=True, settings=None, extra=None, timeout=40, cwd=None):
        proc = self.start(argv, preload, settings, extra, cwd=cwd)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise Failure(f"{' '.join(map(str, argv))} did not finish within {timeout} s\nstdout:\n"
                          f"{out.decode(errors='replace')}\nstderr:\n{err.decode(errors='replace')}")
        return Run(argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))

    def run_logged(self, argv, settings=None, **kw):
        """Runs under the library with JSON records in a log file of their
        own; the run's .records are parsed from it."""
        log = self.new_log()
        merged = {"LOG": log, "FORMAT": "json"}
        merged.update(settings or {})
        run = self.run(argv, settings=merged, **kw)
        run.log = log
        run.records = read_records(log)
        return run

    def read_line(self, proc, timeout=20):
        """One line of a background program's stdout, waiting at most
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        line = b""
        fd = proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            expect(ready, f"no line from {proc.args} within {timeout} s (so far {line!r})")
            chunk = os.read(fd, 1)
            expect(chunk != b"", f"{proc.args} ended before printing a line (so far {line!r})")
            line += chunk
        return line.decode(errors="replace")

    def cleanup(self):
        for proc in self.processes:
            kill_group(proc)
        for path in self.cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
