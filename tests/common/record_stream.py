"""Reading what the library wrote in the real-program and load tests without
holding it all in memory: the JSON records of a log, each checked to have
every key of a record, and the JSON summary lines."""
import collections
import json
import os

from sdtest import Failure, expect

# The keys of a JSON record (README, Records).
RECORD_KEYS = ("v", "ts", "pid", "tid", "prog", "level", "call", "fd", "kind", "local", "peer", "ret", "errno", "code",
               "message", "explanation", "injected", "retries", "host", "advice", "via", "rule")


def check_keys(rec, where):
    missing = [k for k in RECORD_KEYS if k not in rec]
    expect(not missing, f"{where}: record without the keys {missing}: {json.dumps(rec)[:400]}")


def stream_records(path):
    """Yields the records of a JSON log one by one: every line must be one
    complete JSON object with all the keys, or a line saying how many records
    the log could not take (a full disk, a file size limit), which is not
    yielded."""
    with open(path, "rb") as f:
        n = 0
        for raw in f:
            n += 1
            expect(raw.endswith(b"\n"), f"line {n} of {path} is cut: {raw[:300]!r}")
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise Failure(f"line {n} of {path} is not a complete JSON record ({e}): {raw[:300]!r}")
            expect(isinstance(rec, dict), f"line {n} of {path} is not a JSON object: {raw[:300]!r}")
            if "dropped" in rec and str(rec.get("message", "")).endswith(" records dropped: log not writable"):
                continue
            check_keys(rec, f"line {n} of {path}")
            yield rec


class Summary:
    """The JSON summary lines SOCKDIAG_SUMMARY=/path appends at exit:
    counts[(pid, call, code)] = (count, injected); injections[(pid, rule)] = count."""

    def __init__(self, path):
        self.counts, self.injections = {}, collections.Counter()
        expect(os.path.exists(path), f"no summary file {path}")
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise Failure(f"line {n} of the summary {path} is not JSON ({e}): {line[:300]!r}")
                if row.get("summary") == "count":
                    # One row per level: a code may be expected flow and a failure.
                    count, injected = self.counts.get((row["pid"], row["call"], row["code"]), (0, 0))
                    self.counts[(row["pid"], row["call"], row["code"])] = (count + row["count"],
                                                                            injected + row["injected"])
                elif row.get("summary") == "inject":
                    self.injections[(row["pid"], row["rule"])] += row["count"]
