"""Running programs under libsockdiag and reading what they printed and what
it recorded: the harness of the integration tests (../integration), the
real-program tests (../realprogs) and the load tests (../stress).

Records are read from a log file of their own (SOCKDIAG_LOG) in JSON, apart
from the program's output. The process groups and the case table are
sdtest's.
"""
import os
import select
import subprocess
import time

# Failure, Skipped, case, parse_records and read_text are also the case
# modules' own.
from sdtest import (CASES, Failure, ProcessHarness, Skipped, case, driver_parser, expect, expect_eq,  # noqa: F401
                    list_or_run, parse_records, read_records, read_text)


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


def select_records(records, **match):
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def only_record(run, **match):
    """The one record of `run`, which must match `match`."""
    expect_eq(len(run.records), 1, "number of records", run.describe())
    rec = run.records[0]
    for key, wanted in match.items():
        expect_eq(rec.get(key), wanted, f"record field {key}", run.describe())
    return rec


class Harness(ProcessHarness):
    def __init__(self, lib, progs, build_dir):
        super().__init__(lib, progs, "sockdiag-itest-")
        self.build_dir = os.path.abspath(build_dir)
        self.log_count = 0

    def new_log(self, stem="log"):
        self.log_count += 1
        return self.path(f"{stem}.{self.log_count}")

    def start(self, argv, preload=True, settings=None, extra=None, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, cwd=None):
        return self.spawn(argv, self.env(preload, settings, extra), stdout, stderr, cwd)

    def run(self, argv, preload=True, settings=None, extra=None, timeout=40, cwd=None):
        proc = self.start(argv, preload, settings, extra, cwd=cwd)
        return Run(argv, *self.finish(proc, argv, timeout))

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


def run_driver(doc):
    """main() of a suite whose cases run on this harness (the case modules
    imported first register them): --list, or one case with --lib, --progs
    and --build-dir."""
    parser = driver_parser(doc)
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    parser.add_argument("--build-dir")
    args = parser.parse_args()
    return list_or_run(parser, args, CASES, ("lib", "progs", "build_dir"),
                       lambda a: Harness(a.lib, a.progs, a.build_dir))
