#!/usr/bin/env python3
"""User-space instructions per op and per hooked call of each workload under
each configuration, counted by valgrind's callgrind (instruction counts
repeat from run to run where wall time does not).

Each workload runs at two sizes; (Ir(big) - Ir(small)) / (big - small) is the
cost of one op with start-up, warm-up and exit cancelled out. Subtracting
the same figure without a preload gives what a preload adds. See README.md."""
import argparse
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchenv as be

# The goals for the instructions one failure adds, its record included
# (README, Speed: The goals).
FAILURE_GOAL_TEXT = 2500
FAILURE_GOAL_JSON = 3000



def sizes(text):
    try:
        small, big = (int(s) for s in text.split(","))
    except ValueError:
        small = big = 0
    if not 0 < small < big:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not SMALL,BIG iteration counts with 0 < SMALL < BIG")
    return small, big


def instructions(paths, workload, iterations, config, scratch, timeout):
    """Total Ir of one run of the workload under callgrind (all threads)."""
    what = f"{workload.name} {iterations} under {config.name} ({be.describe(config)})"
    stem = os.path.join(scratch, f"{workload.name}.{config.name}.{iterations}")
    out, log = stem + ".callgrind.out", stem + ".valgrind.log"
    # LD_PRELOAD reaches valgrind's launcher too; it only execs, so the
    # preload's work there is not counted. valgrind passes it to the program.
    # A wrapper (fiu-run) goes in front of valgrind: it sets the preload and
    # execs, and the counts are the program's.
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               f"--log-file={log}"] + be.command(paths, workload, iterations)
    with tempfile.TemporaryFile() as err, be.prepared(config, command) as (argv, env):
        try:
            done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                                  stderr=err, timeout=timeout)
        except FileNotFoundError:
            be.fail(f"{argv[0]} is not installed")
        except subprocess.TimeoutExpired:
            be.fail(f"{what} ran over {timeout} s under valgrind; stopped")
        if done.returncode != 0:
            try:
                valgrind_tail = open(log, encoding="utf-8", errors="replace").read()[-2000:]
            except OSError:
                valgrind_tail = "(none)\n"
            be.fail(f"{what} exited with status {done.returncode} under valgrind; "
                    f"its stderr ends:\n{be.tail(err)}valgrind's log ends:\n{valgrind_tail}")
    return be.callgrind_total(out, what, config.preload)


def add_callgrind_args(parser, timeout_flag="--timeout"):
    parser.add_argument("--sizes", type=sizes, default=(2000, 4000),
                        help="the two iteration counts, SMALL,BIG (default 2000,4000)")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep callgrind's output files in DIR, for callgrind_annotate "
                        "(default: a temporary directory, removed)")
    parser.add_argument(timeout_flag, dest="callgrind_timeout", type=be.positive(int), default=600,
                        help="seconds one valgrind run may take (default 600)")


class Counts:
    """Ir per op of every workload under every configuration callgrind can run."""

    def __init__(self, args, paths, workloads, configs):
        if any(w.program != "pingpong" for w in workloads):
            be.fail("--workloads: callgrind counts the socket workloads only "
                    "(it does not follow the children of startup); drop startup")
        self.small, self.big = args.sizes
        self.workloads = workloads
        self.configs = [c for c in configs if c.callgrind]
        self.skipped = [c for c in configs if not c.callgrind]
        self.refused = any(w.name == "refused" for w in workloads)
        self.record_configs = be.record_configs(paths["lib"]) if self.refused else []
        if args.keep:
            try:
                os.makedirs(args.keep, exist_ok=True)
            except OSError as e:
                be.fail(f"--keep: cannot create {args.keep}: {e.strerror}")
        self.per_op = {}
        with tempfile.TemporaryDirectory(prefix="sockdiag-callgrind-") as scratch:
            scratch = args.keep or scratch
            for w in workloads:
                extra = self.record_configs if w.name == "refused" else []
                for c in self.configs + extra:
                    print(f"callgrind: {w.name} under {c.name}", file=sys.stderr, flush=True)
                    counts = [instructions(paths, w, n, c, scratch, args.callgrind_timeout)
                              for n in (self.small, self.big)]
                    self.per_op[(w.name, c.name)] = (counts[1] - counts[0]) / (self.big - self.small)

    def print_table(self):
        print(f"callgrind, user-space instructions (Ir); per op = difference of runs of "
              f"{self.small} and {self.big} ops / {self.big - self.small}")
        print()
        rows = []
        for w in self.workloads:
            none, bare = self.per_op[(w.name, "none")], self.per_op[(w.name, "bare")]
            for (name, c_name), ir in self.per_op.items():
                if name != w.name:
                    continue
                rows.append([w.name, c_name, f"{ir:.1f}", w.calls,
                             "" if c_name == "none" else f"{(ir - none) / w.calls:+.1f}",
                             "" if c_name in ("none", "bare") else f"{(ir - bare) / w.calls:+.1f}"])
        be.print_table(["workload", "config", "Ir/op", "hooked calls/op",
                        "added Ir/call vs none", "added Ir/call vs bare"], rows)
        print()
        for w in self.workloads:
            print(f"- {w.name}: op = {w.op}")
        for c in self.configs + self.record_configs:
            print(f"- {c.name}: {be.describe(c)}")
        for c in self.skipped:
            print(f"- {c.name}: not counted (valgrind cannot run under {c.wrap[0]})")

        if self.refused:
            none = self.per_op[("refused", "none")]
            off = self.per_op[("refused", be.NO_RECORDS)]
            # The op's socket and close are no failure: what libsockdiag adds
            # to them (the sockets workload, default configuration) is taken
            # off, leaving the failing connect and its record.
            sockets = None
            if ("sockets", "default") in self.per_op:
                sockets = self.per_op[("sockets", "default")] - self.per_op[("sockets", "none")]
            print()
            for name, form, goal in ((be.RECORDS, "text", FAILURE_GOAL_TEXT),
                                     (be.JSON_RECORDS, "JSON", FAILURE_GOAL_JSON)):
                written = self.per_op[("refused", name)]
                print(f"Failure path, {form} records (refused connect, one ECONNREFUSED record each): "
                      f"{written - none:+.0f} Ir per op over no preload with the record "
                      f"written to /dev/null, {off - none:+.0f} Ir with SOCKDIAG_LEVEL=off; "
                      f"writing one record: {written - off:.0f} Ir")
                if sockets is not None:
                    failure = written - none - sockets
                    print(f"  the failure alone (op minus the {sockets:.0f} Ir added to its socket + close): "
                          f"{failure:+.0f} Ir; goal at most {goal:+d}: {'met' if failure <= goal else 'NOT met'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    be.add_path_args(parser)
    add_callgrind_args(parser)
    args = parser.parse_args()
    paths, workloads, configs = be.resolve(args)
    Counts(args, paths, workloads, configs).print_table()


if __name__ == "__main__":
    main()
