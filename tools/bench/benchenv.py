"""What bench.py and callgrind.py share: the workloads, the configurations,
the paths of the programs under test and the environment of each run."""
import argparse
import contextlib
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Workload:
    name: str
    iterations: int  # per timed run of bench.py: some 50 ms, short runs of many rounds pair best
    calls: int       # hooked calls per op
    op: str          # what one op is
    program: str = "pingpong"  # the key in the paths of the program that runs it


WORKLOADS = [
    # A round trip is 4 hooked calls: send+recv in the client, recv+send in the echo thread.
    Workload("tcp-send", 5000, 4, "64-byte round trip, TCP 127.0.0.1, send/recv"),
    Workload("tcp-rw", 5000, 4, "64-byte round trip, TCP 127.0.0.1, write/read"),
    Workload("unix-send", 5000, 4, "64-byte round trip, AF_UNIX socketpair, send/recv"),
    Workload("unix-rw", 5000, 4, "64-byte round trip, AF_UNIX socketpair, write/read"),
    Workload("refused", 6000, 3, "socket + connect refused by 127.0.0.1 + close"),
    Workload("sockets", 6000, 2, "socket + close (the refused op without its failing connect)"),
    Workload("eagain", 200000, 1, "recv on an idle non-blocking TCP socket (EAGAIN)"),
    # Not among the defaults: what a process pays once, not per call.
    Workload("startup", 50, 0, "posix_spawn + exec + exit + waitpid of /bin/true",
             program="spawn"),
]
WORKLOAD_NAMES = [w.name for w in WORKLOADS]
DEFAULT_WORKLOADS = [n for n in WORKLOAD_NAMES if n != "startup"]
STARTUP_PROGRAM = "/bin/true"


def command(paths, workload, iterations):
    """The command line of one run of `workload` (without any wrapper)."""
    if workload.program == "spawn":
        return [paths["spawn"], str(iterations), STARTUP_PROGRAM]
    return [paths["pingpong"], workload.name, str(iterations)]


@dataclass(frozen=True)
class Config:
    name: str
    preload: str                      # "" for none
    env: dict = field(default_factory=dict)
    wrap: tuple = ()                  # a command the workload runs under, e.g. strace
    callgrind: bool = True            # False: valgrind cannot run under the wrapper


# In a configuration's VAR=VALUE, this becomes the path of a new file for each
# run, removed after it (a log file that does not grow from run to run).
TMPFILE = "{tmpfile}"


# The cost of one record: refused connects write one ECONNREFUSED record each
# at the default level; compare writing them (to /dev/null, so no disk is in
# it) with not writing them.
# JSON records too (SOCKDIAG_FORMAT=json): they are about twice as long.
RECORDS = "records"
JSON_RECORDS = "records-json"
NO_RECORDS = "level-off"


def record_configs(lib):
    return [Config(RECORDS, lib, {"SOCKDIAG_LOG": "/dev/null"}),
            Config(JSON_RECORDS, lib, {"SOCKDIAG_LOG": "/dev/null", "SOCKDIAG_FORMAT": "json"}),
            Config(NO_RECORDS, lib, {"SOCKDIAG_LEVEL": "off"})]


def fail(message):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {message}")


def positive(kind):
    """argparse type: a number above 0 of `kind` (int or float)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' is not a positive {kind.__name__}")
        return value
    return parse


def tail(file, size=2000):
    """The last `size` bytes of an open binary file, as text."""
    file.seek(0, os.SEEK_END)
    file.seek(max(0, file.tell() - size))
    return file.read().decode(errors="replace")


def print_table(header, rows):
    """A Markdown table, its columns padded to line up in a terminal too."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def read_configs(paths, lib):
    """The configurations listed in the files `paths`, each with `lib`
    preloaded unless the line says @no-preload. Line syntax: configs.txt."""
    configs = []
    for path in paths:
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as e:
            fail(f"cannot read the configurations {path}: {e.strerror}")
        for number, line in enumerate(lines, 1):
            config = parse_config(line, f"{path}:{number}", lib, [c.name for c in configs])
            if config:
                configs.append(config)
    if not configs:
        fail(f"{', '.join(paths)} list no configuration; expected at least 'default'")
    return configs


LINE_SYNTAX = ("expected NAME [VAR=VALUE...] [@no-preload] [@no-callgrind] "
               "[@wrap COMMAND ARG...] in shell quoting")


def parse_config(line, where, lib, taken):
    """One line of a configuration file as a Config, None for a blank line."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as e:
        fail(f"{where}: {e}; {LINE_SYNTAX}")
    if not words:
        return None
    name, words = words[0], words[1:]
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or "=" in name:
        fail(f"{where}: '{name}' is not a configuration name; "
             "expected letters, digits and _ . + - first, then VAR=VALUE words")
    if name in ("none", "bare", RECORDS, JSON_RECORDS, NO_RECORDS) or name in taken:
        fail(f"{where}: the name '{name}' is taken; "
             f"none, bare, {RECORDS}, {JSON_RECORDS}, {NO_RECORDS} and earlier lines' names are")
    env, wrap, preload, callgrind = {}, (), lib, True
    if "@wrap" in words:
        at = words.index("@wrap")
        words, wrap = words[:at], tuple(words[at + 1:])
        if not wrap:
            fail(f"{where}: @wrap is not followed by a command; {LINE_SYNTAX}")
    for word in words:
        if word == "@no-preload":
            preload = ""
        elif word == "@no-callgrind":
            callgrind = False
        else:
            var, eq, value = word.partition("=")
            if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
                fail(f"{where}: '{word}' is not VAR=VALUE nor a known @word; {LINE_SYNTAX}")
            env[var] = value
    return Config(name, preload, env, wrap, callgrind)


# callgrind's output file: the total Ir of the run (all threads).
CALLGRIND_TOTALS = re.compile(r"^(?:totals|summary): (\d+)", re.MULTILINE)


def callgrind_total(out, what, preload):
    """The total Ir in callgrind's output file `out`; fails (naming `what`)
    without one, or when the preload `preload` (if any) is not among the
    objects callgrind saw."""
    text = open(out, encoding="utf-8", errors="replace").read()
    found = CALLGRIND_TOTALS.search(text)
    if not found:
        fail(f"{what}: no 'totals:' line in {out}")
    if preload and os.path.basename(preload) not in text:
        fail(f"{what}: {preload} is not among the objects callgrind saw; the preload did not reach the program")
    return int(found.group(1))


def add_program_args(parser):
    """--build and the paths found under it: the library, the bare preload,
    the workload program."""
    parser.add_argument("--build", metavar="DIR",
                        help="the CMake build directory; gives the defaults of the three below")
    parser.add_argument("--lib", help="libsockdiag.so (default DIR/shim/libsockdiag.so)")
    parser.add_argument("--bare", help="the forwarding-only preload "
                        "(default DIR/tools/bench/libbench_bare.so)")
    parser.add_argument("--pingpong", help="the workload program "
                        "(default DIR/tools/bench/bench_pingpong)")


def add_path_args(parser):
    add_program_args(parser)
    parser.add_argument("--spawn", help="the start-up workload program "
                        "(default DIR/tools/bench/bench_spawn; needed by 'startup' only)")
    parser.add_argument("--configs", nargs="+", metavar="FILE",
                        default=[os.path.join(HERE, "configs.txt")],
                        help="the files of configurations (default: configs.txt here)")
    parser.add_argument("--select", metavar="NAMES",
                        help="comma-separated: measure only these configurations of the "
                        "files (none and bare always)")
    parser.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS),
                        help="comma-separated subset of: " + ", ".join(WORKLOAD_NAMES)
                        + " (default: all but startup)")


def built_paths(args, defaults, targets):
    """The absolute path of each program of `defaults` (key: path under the
    build directory): the option --KEY if given, else under --build; fails
    naming the option and the build `targets` when one is missing."""
    paths = {}
    for key, relative in defaults.items():
        path = getattr(args, key)
        if path is None:
            if args.build is None:
                fail(f"--{key} is not given and there is no --build DIR to find it in")
            path = os.path.join(args.build, relative)
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            fail(f"--{key}: {path} does not exist (build it first: cmake --build DIR --target {targets})")
        paths[key] = path
    return paths


def resolve(args):
    """Checks the arguments; returns (paths by key: lib, bare, pingpong and,
    if a chosen workload needs it, spawn; the chosen workloads; the
    configurations, none and bare first)."""
    workloads = []
    for name in args.workloads.split(","):
        found = [w for w in WORKLOADS if w.name == name]
        if not found:
            fail(f"--workloads: unknown workload '{name}'; expected some of "
                 + ", ".join(WORKLOAD_NAMES))
        workloads.append(found[0])

    defaults = {"lib": "shim/libsockdiag.so", "bare": "tools/bench/libbench_bare.so",
                "pingpong": "tools/bench/bench_pingpong", "spawn": "tools/bench/bench_spawn"}
    needed = {w.program for w in workloads} | {"lib", "bare", "pingpong"}
    paths = built_paths(args, {k: v for k, v in defaults.items() if k in needed},
                        "sockdiag_preload bench_bare bench_pingpong bench_spawn")

    configs = read_configs(args.configs, paths["lib"])
    if args.select:
        names = args.select.split(",")
        unknown = [n for n in names if n not in [c.name for c in configs]]
        if unknown:
            fail(f"--select: no configuration named {', '.join(unknown)} in "
                 f"{', '.join(args.configs)}; they have " + ", ".join(c.name for c in configs))
        configs = [c for c in configs if c.name in names]
    return paths, workloads, [Config("none", ""), Config("bare", paths["bare"])] + configs


def run_env(config, scratch=None):
    """The environment of one run: ours minus any preload or sockdiag setting
    (the library rejects unknown SOCKDIAG_ names), plus the configuration's,
    {tmpfile} made a path in the directory `scratch`."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("SOCKDIAG_")}
    if config.preload:
        env["LD_PRELOAD"] = config.preload
    for var, value in config.env.items():
        if TMPFILE in value:
            if scratch is None:
                fail(f"{config.name}: {TMPFILE} in {var} needs a scratch directory")
            value = value.replace(TMPFILE, os.path.join(scratch, f"{config.name}.{var}"))
        env[var] = value
    return env


@contextlib.contextmanager
def prepared(config, argv):
    """(command line, environment) of one run of `argv` under `config`: its
    wrapper in front; its {tmpfile}s in a new directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sockdiag-bench-") as scratch:
        yield list(config.wrap) + list(argv), run_env(config, scratch)


def describe(config):
    if not config.preload and not config.wrap:
        return "no preload"
    what = os.path.basename(config.preload) if config.preload else ""
    shorten = lambda v: v if len(v) <= 60 else f"{v[:60]}... ({len(v)} characters)"
    settings = " ".join(f"{k}={shorten(v)}" for k, v in config.env.items())
    wrap = f"under `{shlex.join(config.wrap)}`" if config.wrap else ""
    return " ".join(p for p in (what, settings, wrap) if p)
