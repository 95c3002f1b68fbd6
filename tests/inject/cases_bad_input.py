"""Bad rules through the real library: the program is stopped before main
(status 78, nothing of its own printed), with one line on stderr saying
where, what was expected and the nearest valid word."""
import os
import re

from inject_harness import Skipped, case, expect, expect_eq

STATUS = 78
CORPUS = os.path.join("tests", "unit", "bad_rules.txt")


def decode(text):
    """The corpus's escapes: \\n \\t \\\\ \\xNN."""
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"\\" and i + 1 < len(raw):
            nxt = raw[i + 1:i + 2]
            if nxt == b"n":
                out += b"\n"
                i += 2
                continue
            if nxt == b"t":
                out += b"\t"
                i += 2
                continue
            if nxt == b"\\":
                out += b"\\"
                i += 2
                continue
            if nxt == b"x" and re.fullmatch(rb"[0-9a-fA-F]{2}", raw[i + 2:i + 4]):
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
                continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def corpus(h):
    """(rule bytes, [fragments]) for each case of the unit tests' corpus."""
    path = os.path.join(h.source_dir, CORPUS)
    if not os.path.exists(path):
        raise Skipped(f"{path} is missing")
    cases, pending = [], None
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if pending is None:
                if line.strip() and not line.startswith("#"):
                    pending = decode(line)
            elif line.startswith("=> "):
                cases.append((pending, line[3:].split(" && ")))
                pending = None
    return cases


def refused(run, source, fragments=()):
    """The problems with a run that should have been refused (empty: none)."""
    problems = []
    if run.rc != STATUS:
        problems.append(f"exit status {run.rc}, not {STATUS}")
    if run.out:
        problems.append(f"the program ran and printed {run.out!r}")
    lines = run.err.splitlines()
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, not one")
    elif not lines[0].startswith(f"sockdiag: {source}"):
        problems.append(f"the line does not start with 'sockdiag: {source}'")
    for fragment in fragments:
        if fragment not in run.err:
            problems.append(f"the line does not say {fragment!r}")
    return problems


@case("bad rules corpus is refused before main")
def _(h):
    failures, tried = [], 0
    for text, fragments in corpus(h):
        # An environment variable ends at its first NUL byte: such a text
        # cannot reach the library by SOCKDIAG_INJECT.
        if b"\0" in text:
            continue
        tried += 1
        run = h.run([h.prog("sockops"), "say", "main ran"], extra={"SOCKDIAG_INJECT": os.fsdecode(text)},
                    settings={"LOG": "stderr", "FORMAT": "text"}, timeout=10)
        problems = refused(run, "SOCKDIAG_INJECT", fragments)
        if problems:
            failures.append(f"{text!r}: {'; '.join(problems)}\n    stderr: {run.err.strip()!r}")
    expect(tried > 50, f"only {tried} cases in {CORPUS}")
    expect(not failures, f"{len(failures)} of {tried} bad rules were not refused as they should be:\n" +
           "\n".join(failures))


@case("bad rule in a config file names the file line and column")
def _(h):
    conf = h.path("bad.conf")
    lines = ["# faults", "inject = recv:eof", "  inject   =   conect:error=ECONNREFUSED", "inject = send:short=1"]
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    run = h.run([h.prog("sockops"), "say", "main ran"], settings={"CONFIG": conf, "LOG": "stderr"}, timeout=10)
    column = lines[2].index("conect") + 1
    problems = refused(run, conf, [f"{conf}:3, column {column}:", "did you mean connect?"])
    expect(not problems, f"a bad rule on line 3 of a config file (\"conect\" at column {column} of the line): " +
           "; ".join(problems), run.describe())


@case("bad rule in the variable with a good config file")
def _(h):
    conf = h.path("good.conf")
    with open(conf, "w") as f:
        f.write("inject = recv:eof\n")
    run = h.run([h.prog("sockops"), "say", "main ran"], inject="recv:eof; connect:error=ECONNREFUSED:prot=80",
                settings={"CONFIG": conf, "LOG": "stderr"}, timeout=10)
    problems = refused(run, "SOCKDIAG_INJECT", ["column 38:", "did you mean port?"])
    expect(not problems, "; ".join(problems), run.describe())


@case("bad seed is refused before main")
def _(h):
    run = h.run([h.prog("sockops"), "say", "main ran"], inject="setsockopt:error=ENOBUFS:prob=0.5",
                settings={"SEED": "12abc", "LOG": "stderr"}, timeout=10)
    problems = refused(run, "SOCKDIAG_SEED")
    expect(not problems, "; ".join(problems), run.describe())
    expect_eq(run.records, [], "records of a refused run", run.describe())
