"""Checks a `sockdiag run --summary --format json` stderr: the tree summary
counts exactly the records written, by (call, code) and by process.

    summary_check.py STDERR_FILE EXPECTED_RECORDS EXPECTED_PROCESSES
"""
import collections
import json
import sys

path, want_records, want_processes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
records, trees = [], []
for line in open(path, errors="replace"):
    if not line.startswith("{"):
        continue
    j = json.loads(line)
    if j.get("summary") == "tree":
        trees.append(j)
    elif "summary" not in j and j.get("level") == "error":
        records.append(j)

assert len(trees) == 1, f"expected one tree summary, got {len(trees)}"
tree = trees[0]
assert len(records) == want_records, f"expected {want_records} records, got {len(records)}"
by_code = collections.defaultdict(lambda: [0, set()])
for r in records:
    row = by_code[(r["call"], r["code"])]
    row[0] += 1
    row[1].add(f'{r["prog"]}[{r["pid"]}]')
got = {(c["call"], c["code"]): [c["count"], set(c["processes"])] for c in tree["counts"]}
assert got == dict(by_code), f"the summary counts {got}, the records say {dict(by_code)}"
assert tree["failures"] == len(records), tree
assert tree["processes"] == want_processes == len({r["pid"] for r in records}), tree
assert not tree["counted_at_exit_only"] and not tree["still_running"], tree
print(f"ok: {len(records)} records, {tree['processes']} processes, all counted")
