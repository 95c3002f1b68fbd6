"""Records made of values from outside the library: the program's own name
(argv[0]) and the unix socket addresses it connects to may hold any byte (a
newline, a terminal escape, bytes that are not UTF-8). Each record must stay
one line, inert on a terminal in text, and valid UTF-8 JSON that parses."""
import os

from harness import case, expect, expect_eq, select_records

# A program name and two addresses that would break a naive record: a newline
# (a second, forged line), terminal escapes, and a byte that is not UTF-8.
NAME = "evil\nsockdiag forged[1] error\x1b[2J"
NAME_TEXT = "evil\\nsockdiag forged[1] error\\x1b[2J"
PATH_TAIL = b"no\nsuch\x1b]0;title\x07sock\xff"
PATH_TAIL_TEXT = "no\\nsuch\\x1b]0;title\\x07sock\\xff"
PATH_TAIL_JSON = "no\nsuch\x1b]0;title\x07sock\ufffd"  # one U+FFFD for the byte that is not UTF-8


def hostile_run(h, settings, logged):
    """connect_unix under the name NAME, to a missing path (ENOENT) and an
    abstract name nobody listens on (ECONNREFUSED)."""
    prog = h.path(NAME)
    os.symlink(h.prog("connect_unix"), prog)
    # As str, bytes kept by the file system encoding's surrogate escapes: the
    # harness passes str arguments.
    path = os.fsdecode(os.fsencode(h.path("")) + PATH_TAIL)
    abstract = f"@sd-\n-\x07-{os.getpid()}-{h.log_count}"
    argv = [prog, path, abstract]
    run = h.run_logged(argv, settings=settings) if logged else h.run(argv, settings=settings)
    run.expect_rc(0).expect_out("connect: -1 ENOENT", "connect: -1 ECONNREFUSED")
    return run, os.fsdecode(h.path("")), abstract


@case("text records and summary escape a hostile program name and unix paths")
def text_escapes(h):
    run, base, abstract = hostile_run(h, {"SUMMARY": "1"}, logged=False)
    lines = run.err.split("\n")
    expect_eq(lines[-1], "", "the last line of stderr is not complete", run.describe())
    lines = lines[:-1]
    for line in lines:
        expect(line.startswith("sockdiag "), "a line on stderr is not sockdiag's own", run.describe())
        expect(all(ord(c) >= 0x20 for c in line), f"a control character is left in {line!r}", run.describe())
    records = [line for line in lines if not line.startswith("sockdiag summary ")]
    expect_eq(len(records), 2, "records on stderr (one line each)", run.describe())
    path_text = base + PATH_TAIL_TEXT
    abstract_text = abstract.replace("\n", "\\n").replace("\x07", "\\x07")
    expect(f" {NAME_TEXT}[" in records[0], "the program's name is not escaped", records[0])
    expect(f" -> {path_text} = -1 ENOENT(2) " in records[0], "the missing path is not escaped", records[0])
    expect(f" -> {abstract_text} = -1 ECONNREFUSED(111) " in records[1], "the abstract name is not escaped",
           records[1])
    expect(f"{abstract_text}" in records[1].split(": ", 1)[1], "the explanation does not name the abstract address",
           records[1])
    summary = [line for line in lines if line.startswith("sockdiag summary ")]
    expect(summary and all(line.startswith(f"sockdiag summary {NAME_TEXT}[") for line in summary),
           "the summary lines do not start with the escaped program name", run.describe())


@case("json records of a hostile program name and unix paths parse as UTF-8")
def json_escapes(h):
    # read_records decodes the log as strict UTF-8 and parses every line.
    run, base, abstract = hostile_run(h, {}, logged=True)
    expect_eq(len(run.records), 2, "records", run.describe())
    expect_eq([r["prog"] for r in run.records], [NAME, NAME], "the program's name, decoded")
    missing = select_records(run.records, code="ENOENT")
    expect_eq(len(missing), 1, "ENOENT records", run.describe())
    expect_eq(missing[0]["peer"], base + PATH_TAIL_JSON, "the missing path, decoded")
    refused = select_records(run.records, code="ECONNREFUSED")
    expect_eq(len(refused), 1, "ECONNREFUSED records", run.describe())
    expect_eq(refused[0]["peer"], abstract, "the abstract name, decoded")
    expect(abstract in refused[0]["explanation"], "the explanation does not name the abstract address",
           refused[0]["explanation"])
