"""What bench.py and callgrind.py share: the workloads, the configurations,
the paths of the programs under test and the environment of each run."""
import argparse
import os
import re
import shlex
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Workload:
    name: str
    iterations: int  # per timed run of bench.py: some 50 ms, short runs of many rounds pair best
    calls: int       # hooked calls per op
    op: str          # what one op is


WORKLOADS = [
    # A round trip is 4 hooked calls: send+recv in the client, recv+send in the echo thread.
    Workload("tcp-send", 5000, 4, "64-byte round trip, TCP 127.0.0.1, send/recv"),
    Workload("tcp-rw", 5000, 4, "64-byte round trip, TCP 127.0.0.1, write/read"),
    Workload("unix-send", 5000, 4, "64-byte round trip, AF_UNIX socketpair, send/recv"),
    Workload("unix-rw", 5000, 4, "64-byte round trip, AF_UNIX socketpair, write/read"),
    Workload("refused", 6000, 3, "socket + connect refused by 127.0.0.1 + close"),
    Workload("eagain", 200000, 1, "recv on an idle non-blocking TCP socket (EAGAIN)"),
]
WORKLOAD_NAMES = [w.name for w in WORKLOADS]


@dataclass(frozen=True)
class Config:
    name: str
    preload: str                      # "" for none
    env: dict = field(default_factory=dict)


# The cost of one record: refused connects write one ECONNREFUSED record each
# at the default level; compare writing them (to /dev/null, so no disk is in
# it) with not writing them.
RECORDS = "records"
NO_RECORDS = "level-off"


def record_configs(lib):
    return [Config(RECORDS, lib, {"SOCKDIAG_LOG": "/dev/null"}),
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


def read_configs(path, lib):
    """The configurations listed in `path`, each with `lib` preloaded."""
    configs = []
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        fail(f"cannot read the configurations {path}: {e.strerror}")
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}"
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            fail(f"{where}: {e}; expected NAME [VAR=VALUE...] in shell quoting")
        if not words:
            continue
        name, assignments = words[0], words[1:]
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or "=" in name:
            fail(f"{where}: '{name}' is not a configuration name; "
                 "expected letters, digits and _ . + - first, then VAR=VALUE words")
        if name in ("none", "bare", RECORDS, NO_RECORDS) or name in (c.name for c in configs):
            fail(f"{where}: the name '{name}' is taken; "
                 f"none, bare, {RECORDS}, {NO_RECORDS} and earlier lines' names are")
        env = {}
        for word in assignments:
            var, eq, value = word.partition("=")
            if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
                fail(f"{where}: '{word}' is not VAR=VALUE")
            env[var] = value
        configs.append(Config(name, lib, env))
    if not configs:
        fail(f"{path} lists no configuration; expected at least 'default'")
    return configs


def add_path_args(parser):
    parser.add_argument("--build", metavar="DIR",
                        help="the CMake build directory; gives the defaults of the three below")
    parser.add_argument("--lib", help="libsockdiag.so (default DIR/shim/libsockdiag.so)")
    parser.add_argument("--bare", help="the forwarding-only preload "
                        "(default DIR/tools/bench/libbench_bare.so)")
    parser.add_argument("--pingpong", help="the workload program "
                        "(default DIR/tools/bench/bench_pingpong)")
    parser.add_argument("--configs", default=os.path.join(HERE, "configs.txt"),
                        help="the libsockdiag configurations (default: configs.txt here)")
    parser.add_argument("--workloads", default=",".join(WORKLOAD_NAMES),
                        help="comma-separated subset of: " + ", ".join(WORKLOAD_NAMES))


def resolve(args):
    """Checks the arguments; returns (paths by key: lib, bare, pingpong;
    the chosen workloads; the configurations, none and bare first)."""
    defaults = {"lib": "shim/libsockdiag.so", "bare": "tools/bench/libbench_bare.so",
                "pingpong": "tools/bench/bench_pingpong"}
    paths = {}
    for key, relative in defaults.items():
        path = getattr(args, key)
        if path is None:
            if args.build is None:
                fail(f"--{key} is not given and there is no --build DIR to find it in")
            path = os.path.join(args.build, relative)
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            fail(f"--{key}: {path} does not exist (build it first: "
                 "cmake --build DIR --target sockdiag_preload bench_bare bench_pingpong)")
        paths[key] = path

    workloads = []
    for name in args.workloads.split(","):
        found = [w for w in WORKLOADS if w.name == name]
        if not found:
            fail(f"--workloads: unknown workload '{name}'; expected some of "
                 + ", ".join(WORKLOAD_NAMES))
        workloads.append(found[0])

    configs = [Config("none", ""), Config("bare", paths["bare"])]
    configs += read_configs(args.configs, paths["lib"])
    return paths, workloads, configs


def run_env(config):
    """The environment of one run: ours minus any preload or sockdiag setting
    (the library rejects unknown SOCKDIAG_ names), plus the configuration's."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("SOCKDIAG_")}
    if config.preload:
        env["LD_PRELOAD"] = config.preload
    env.update(config.env)
    return env


def describe(config):
    if not config.preload:
        return "no preload"
    what = os.path.basename(config.preload)
    shorten = lambda v: v if len(v) <= 60 else f"{v[:60]}... ({len(v)} characters)"
    settings = " ".join(f"{k}={shorten(v)}" for k, v in config.env.items())
    return f"{what} {settings}".strip()
