#!/usr/bin/env python3
"""Runs one case of libsockdiag's hostile-argument tests, or lists them.

  run_hostile.py --list                      one "ID<TAB>TITLE" line per case
  run_hostile.py --lib L --progs D CASE_ID

The battery (battery.c, its calls generated from shim/core/hooks.def) calls every
hooked function with NULL, invalid and out-of-range pointers and counts, one
result line per call. A case runs it without the library and with it, under
one setting, and the two outputs must be the same line for line: same return
values, same errno, same signals (a SIGSEGV of the library's would be one).

Exit status 0 when the outputs match, 1 when they differ, 2 on wrong usage.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "common"))

from sdtest import ProcessHarness, driver_parser, expect, list_or_run, preload_value, read_text  # noqa: E402
from gen_battery import PROCESS_GROUPS  # noqa: E402  (the same directory: the one list of skipped groups)

HOOKS_DEF = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shim", "core", "hooks.def")

# Rules that make every read and write, connect, accept and lookup go through
# the injection paths without changing what the battery's calls return: the
# input rule needs the length of every read before the call (a msghdr's and
# iovec's included), the connect rule reads the address the call names, and
# the others match nothing or only delay. Outputs on the TCP socket (never
# connected: they fail before moving a byte) get a short rule too; on other
# sockets a short rule would really shorten sendmmsg's batch. An input delay
# holds readiness back (a zero-timeout poll would not see the data), so the
# input delay and end-of-stream rules match nothing: they only send every
# wait through the held path (inject_readiness.h), bad pointers included.
RULES = ("input:short=1M; output:short=1M:kind=tcp; connect:error=ECONNREFUSED:port=1; "
         "dns:error=EAI_AGAIN:host=nomatch.invalid; accept:delay=1us; output:delay=1us; "
         "input:delay=1us:port=1; input:eof:after=86400s")
RETRY = {"RETRY": "eintr,eagain,econnaborted", "RETRY_TIMEOUT_MS": "20"}
# Rules that do change what calls return (an end of stream, one byte at a
# time): results differ by design, but no call may die of a signal it would
# not die of without the library. (A connect rule would fail the battery's
# own set-up.)
FAULTS = "input:eof; output:short=1"

# id -> (title, battery program, settings); cases marked SIGNALS only compare
# the signals the calls die of.
SIGNALS = "signals"
SETTINGS = {
    "default": ("default level same as without the library", "hostile_battery", {}),
    "trace": ("level trace same as without the library", "hostile_battery", {"LEVEL": "trace"}),
    "retry": ("with retries same as without the library", "hostile_battery", RETRY),
    "inject": ("with injection rules same as without the library", "hostile_battery",
               {"INJECT": RULES}),
    "fortified": ("fortified build same as without the library", "hostile_battery_fortified", {}),
    "fortified_all": ("fortified build trace retries rules same as without the library",
                      "hostile_battery_fortified", dict(RETRY, LEVEL="trace", INJECT=RULES)),
    "faults": ("fault rules kill no call that lives without the library", "hostile_battery",
               {"INJECT": FAULTS, SIGNALS: True}),
}


def hook_names():
    """The hooks the battery calls: all but those of PROCESS_GROUPS."""
    with open(HOOKS_DEF) as f:
        found = (re.match(r"^SD_HOOK(?:_VA)?\(([a-z_]+), [^,]+, (\w+),", line) for line in f)
        return [m.group(2) for m in found if m and m.group(1) not in PROCESS_GROUPS]


def run_battery(h, prog, env, what):
    argv = [h.prog(prog)]
    proc = h.spawn(argv, env)
    rc, out, err = h.finish(proc, argv, 200)
    expect(rc == 0, f"the battery {what} exited with {rc}", err[-3000:])
    expect(re.search(r"^battery: \d+ calls$", err, re.M), f"the battery {what} did not finish its calls", err[-3000:])
    return out.splitlines()


def outcome_signal(line):
    m = re.search(r" = signal (\d+)$", line)
    return m.group(1) if m else None


def compare(h, prog, settings):
    settings = dict(settings)
    signals_only = settings.pop(SIGNALS, False)
    # The reference run preloads what the library run preloads besides the
    # library (a sanitizer's runtime), and nothing else.
    plain_env = h.env(preload=False)
    first = preload_value("").rstrip(":")
    if first:
        plain_env["LD_PRELOAD"] = first
    plain = run_battery(h, prog, plain_env, "without the library")
    log = h.path("records.log")
    # SIGPIPE is compared too: the default setting takes it away on purpose.
    lib_settings = dict(settings, SIGPIPE="keep", LOG=log)
    lib = run_battery(h, prog, h.env(settings=lib_settings), "with the library")

    names = {line.split("(", 1)[0] for line in plain}
    missing = [n for n in hook_names() if n not in names]
    expect(not missing, f"the battery made no call of {', '.join(missing)}")
    expect(len(plain) > 20 * len(names), f"the battery made only {len(plain)} calls", "\n".join(plain))
    if signals_only:
        diffs = [f"without: {a}\n   with: {b}" for a, b in zip(plain, lib)
                 if a.split(" = ")[0] != b.split(" = ")[0] or
                 (outcome_signal(b) is not None and outcome_signal(b) != outcome_signal(a))]
    else:
        diffs = [f"without: {a}\n   with: {b}" for a, b in zip(plain, lib) if a != b]
    if len(plain) != len(lib):
        diffs.append(f"{len(plain)} result lines without the library, {len(lib)} with it")
    expect(not diffs, f"{len(diffs)} calls behave differently under the library ({settings})",
           "\n".join(diffs[:60]))
    # The library was there: the failures it saw are recorded.
    expect(read_text(log).count("\n") > 0, "the library wrote no record: was it loaded?", read_text(log)[:2000])


def make_case(prog, settings):
    return lambda h: compare(h, prog, settings)


def main():
    parser = driver_parser(__doc__)
    parser.add_argument("--lib")
    parser.add_argument("--progs")
    args = parser.parse_args()
    cases = {ident: (title, make_case(prog, settings)) for ident, (title, prog, settings) in SETTINGS.items()}
    return list_or_run(parser, args, cases, ("lib", "progs"),
                       lambda a: ProcessHarness(a.lib, a.progs, "sockdiag-hostile-"))


if __name__ == "__main__":
    sys.exit(main())
