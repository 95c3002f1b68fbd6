"""What every Python test driver of libsockdiag shares: the table of cases
(@case), checks that fail a case, the environment and process groups of the
programs a case runs, the JSON lines the library writes, and the main that
lists the cases or runs one.

Every program runs in a process group of its own, so that it and anything it
forks are killed when a case ends, fails or times out.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback

SKIP = 77  # the exit status CTest is told means "skipped"


# Case id -> (CTest title, function of a harness), in the order the case
# modules register them.
CASES = {}


def case(title):
    """Registers the decorated function, called with the driver's harness, as
    the case named `title` in CTest (after the driver's PREFIX: )."""
    def register(fn):
        ident = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        if ident in CASES or any(title == t for t, _ in CASES.values()):
            raise ValueError(f"two cases named {title!r}")
        CASES[ident] = (title, fn)
        return fn
    return register


class Failure(Exception):
    """A check of a case did not hold."""


class Skipped(Exception):
    """The case cannot run on this machine (said why)."""


def expect(condition, message, detail=None):
    if not condition:
        raise Failure(message if detail is None else f"{message}\n--- detail ---\n{detail}")


def expect_eq(actual, wanted, what, detail=None):
    expect(actual == wanted, f"{what}: expected {wanted!r}, got {actual!r}", detail)


def preload_value(libs):
    """LD_PRELOAD for `libs`. SOCKDIAG_TEST_PRELOAD_FIRST (tools/sanitize.sh:
    a sanitizer's runtime, which must be loaded before any library
    instrumented with it) goes in front."""
    first = os.environ.get("SOCKDIAG_TEST_PRELOAD_FIRST")
    return f"{first}:{libs}" if first else libs


def inherited_env():
    """The caller's environment without any SOCKDIAG_ variable or preload."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SOCKDIAG_") and k != "LD_PRELOAD"}


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


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class ProcessHarness:
    """Starts the programs of one case under the library at `lib` (the test
    programs are in `progs`) and kills them all when the case ends."""

    def __init__(self, lib, progs, tmp_prefix):
        self.lib = os.path.abspath(lib)
        self.preload = preload_value(self.lib)
        self.progs = os.path.abspath(progs)
        self.tmp = tempfile.mkdtemp(prefix=tmp_prefix)
        self.cleanup_paths = [self.tmp]
        self.closers = []  # run after the processes are killed
        self.processes = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def prog(self, name):
        path = os.path.join(self.progs, name)
        expect(os.access(path, os.X_OK), f"test program {path} is not built")
        return path

    def env(self, preload=True, settings=None, extra=None):
        """The test's own environment without any SOCKDIAG_ variable or
        preload of the caller; `settings` are SOCKDIAG_ variables without
        the prefix (LOG, LEVEL, ...)."""
        env = inherited_env()
        env["LC_ALL"] = "C"
        if preload:
            env["LD_PRELOAD"] = self.preload
        for key, value in (settings or {}).items():
            env["SOCKDIAG_" + key] = str(value)
        env.update(extra or {})
        return env

    def spawn(self, argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=None):
        proc = subprocess.Popen([str(a) for a in argv], env=env, stdout=stdout, stderr=stderr,
                                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.processes.append(proc)
        return proc

    def finish(self, proc, argv, timeout):
        """(exit status, stdout, stderr) of `proc`, killed after `timeout` s."""
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise Failure(f"{' '.join(map(str, argv))} did not finish within {timeout} s\nstdout:\n"
                          f"{out.decode(errors='replace')}\nstderr:\n{err.decode(errors='replace')}")
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def cleanup(self):
        for proc in self.processes:
            kill_group(proc)
        for close in self.closers:
            close()
        for path in self.cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)


def on_term(signum, frame):
    # `timeout` sends SIGTERM: unwind so that the case's processes are killed.
    raise SystemExit(f"stopped by signal {signum} (time limit?)")


def driver_parser(doc):
    """The command line every driver takes: --list, or the options the
    driver adds and one case id."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("case", nargs="?")
    return parser


def list_or_run(parser, args, cases, required, make_harness, where=""):
    """Prints one "ID<TAB>TITLE" line per case of `cases` (id -> (title,
    function of a harness)), or runs case args.case with the harness
    make_harness(args) when every option named in `required` is given.
    Returns the exit status: 0 passed, 1 failed, SKIP skipped, 2 wrong usage."""
    if args.list:
        for ident, (title, _) in cases.items():
            print(f"{ident}\t{title}")
        return 0
    if not (all(getattr(args, name) for name in required) and args.case):
        parser.print_usage(sys.stderr)
        return 2
    if args.case not in cases:
        print(f"{parser.prog}: no case '{args.case}'{where}; accepted: {', '.join(cases)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, on_term)
    title, fn = cases[args.case]
    h = make_harness(args)
    try:
        fn(h)
    except Skipped as why:
        print(f"skipped: {title}: {why}")
        return SKIP
    except Failure as failure:
        print(f"FAILED: {title}\n{failure}")
        return 1
    except Exception:
        print(f"FAILED: {title} (error in the test itself)")
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        h.cleanup()
    print(f"passed: {title}")
    return 0
