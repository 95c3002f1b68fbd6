"""Checks that a summary of `cli_prog outcomes 2 3 4`, run with the rules
RULES below, counts each category apart, exactly:

    failure   connect ECONNREFUSED 2 (real), setsockopt ENOBUFS 1 (injected)
    event     recv EOF 1 (the peer's close)
    expected  connect EINPROGRESS 1, recv EAGAIN 3 (non-blocking socket)
    notice    send INJECTED_DELAY 4 (the sends were delayed, not failed)

    category_check.py FORM FILE

FORM: process-text, process-json (the library's exit summary, SOCKDIAG_SUMMARY=1),
tree-text, tree-json (`sockdiag run --summary`), report-text, report-json
(`sockdiag report` of a JSON log written at level debug).
"""
import json
import re
import sys

RULES = "send:delay=1ms;setsockopt:error=ENOBUFS"
ROWS = {  # (call, code): (category, count, injected)
    ("connect", "ECONNREFUSED"): ("failure", 2, 0),
    ("setsockopt", "ENOBUFS"): ("failure", 1, 1),
    ("recv", "EOF"): ("event", 1, 0),
    ("connect", "EINPROGRESS"): ("expected", 1, 0),
    ("recv", "EAGAIN"): ("expected", 3, 0),
    ("send", "INJECTED_DELAY"): ("notice", 4, 4),
}
CATEGORIES = {"failure": (3, 1), "event": (1, 0), "expected": (4, 0), "notice": (4, 4)}
HEADING = ("3 failures (1 injected), 1 event, 4 expected, "
           "4 injected notices (delay, short transfer, reset)")


def check(got, want, what):
    if got != want:
        sys.exit(f"{what}: got {got!r}, expected {want!r}")


def json_lines(path):
    return [json.loads(line) for line in open(path, errors="replace") if line.startswith("{")]


def process_text(path):
    lines = [l.rstrip("\n") for l in open(path, errors="replace") if l.startswith("sockdiag summary ")]
    body = [re.sub(r"^sockdiag summary cli_prog\[\d+\] +", "", l) for l in lines]
    check(body[0], HEADING, "the heading")
    check(body[1].split(), ["call", "code", "category", "count", "injected"], "the columns")
    rows = {}
    for l in body[2:]:
        f = l.split()
        if len(f) == 5 and f[3].isdigit():
            rows[(f[0], f[1])] = (f[2], int(f[3]), int(f[4]))
    check(rows, ROWS, "the rows")
    # Failures first, then events, expected flow, notices.
    order = [rows[(l.split()[0], l.split()[1])][0] for l in body[2:] if (tuple(l.split()[:2]) in rows)]
    check(order, sorted(order, key=list(CATEGORIES).index), "the order of the rows")


def process_json(path):
    lines = [j for j in json_lines(path) if "summary" in j]
    totals = [j for j in lines if j["summary"] == "totals"]
    check(len(totals), 1, "totals lines")
    check({c: (totals[0][c]["count"], totals[0][c]["injected"]) for c in CATEGORIES}, CATEGORIES, "the totals")
    rows = {(j["call"], j["code"]): (j["category"], j["count"], j["injected"])
            for j in lines if j["summary"] == "count"}
    check(rows, ROWS, "the count lines")
    levels = {(j["call"], j["code"]): j["level"] for j in lines if j["summary"] == "count"}
    check(levels[("recv", "EAGAIN")], "debug", "the level of the expected EAGAIN")


def headed_text(path, heading, what):
    """The text of a summary or report, once its heading line names HEADING."""
    text = open(path, errors="replace").read()
    m = re.search(heading, text, re.M)
    if not m:
        sys.exit(f"no {what} heading in:\n{text}")
    check(m.group(1), HEADING, "the heading")
    return text


def tree_text(path):
    text = headed_text(path, r"^sockdiag summary: (.*), reported by 1 process$", "tree summary")
    rows = {}
    for l in text.splitlines():
        f = l.split()
        if len(f) == 6 and f[3].isdigit() and re.fullmatch(r"cli_prog\[\d+\]", f[5]):
            rows[(f[0], f[1])] = (f[2], int(f[3]), int(f[4]))
    check(rows, ROWS, "the rows")


def tree_json(path):
    trees = [j for j in json_lines(path) if j.get("summary") == "tree"]
    check(len(trees), 1, "tree summaries")
    t = trees[0]
    check({c: (v["count"], v["injected"]) for c, v in t["categories"].items()}, CATEGORIES, "the categories")
    check((t["failures"], t["injected"]), CATEGORIES["failure"], "failures and injected failures")
    check({(c["call"], c["code"]): (c["category"], c["count"], c["injected"]) for c in t["counts"]}, ROWS, "the rows")


# The log holds one record per outcome; the injected ones are listed apart.
REPORTED = {k: v for k, v in ROWS.items() if not v[2]}


def report_text(path):
    text = headed_text(path, r"^12 records from 1 process, .* to .*: (.*); 5 injected, listed apart$", "report")
    rows = {}
    section = None
    for l in text.splitlines():
        if l and not l.startswith(" "):
            section = l
        f = l.split()
        if section == "By call and code:" and len(f) >= 4 and f[3].isdigit():
            rows[(f[0], f[1])] = (f[2], int(f[3]), 0)
    check(rows, REPORTED, "the call and code rows")


def report_json(path):
    r = json.load(open(path))
    check({c: (v["count"], v["injected"]) for c, v in r["categories"].items()}, CATEGORIES, "the categories")
    check((r["records"], r["injected"]), (12, 5), "records and injected ones")
    check({(g["call"], g["code"]): (g["category"], g["count"], 0) for g in r["by_call"]}, REPORTED, "by call")
    # Peers and processes: failures only (the two refusals), not the expected flow.
    check(sum(g["count"] for g in r["by_process"]), 2, "failures by process")
    check(sum(g["count"] for g in r["by_peer"]), 2, "failures by peer")


FORMS = {f.__name__.replace("_", "-"): f for f in (process_text, process_json, tree_text, tree_json,
                                                   report_text, report_json)}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in FORMS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(FORMS)} FILE")
    FORMS[sys.argv[1]](sys.argv[2])
    print(f"ok: {sys.argv[1]}")
