"""What the real-program and load tests share: reading records and the
summary without holding them all in memory, the keys every JSON record
has, and the programs used from Debian (absolute paths, so that another
install earlier in PATH is never tested instead)."""
import collections
import json
import os

from harness import Failure, expect

# Calls per thread in the thread load (run.py --calls).
DEFAULT_CALLS = 100000
CALLS = DEFAULT_CALLS

# The keys of a JSON record (notes/records.md; issue 2 asks for the first 16).
RECORD_KEYS = ("ts", "pid", "tid", "prog", "level", "call", "fd", "kind", "local", "peer", "ret", "errno", "code",
               "message", "explanation", "injected", "retries", "host", "advice", "via", "rule")

# Program -> the Debian package that installs it (tools/install-deps.sh).
DEBIAN = {
    "/usr/bin/python3": "python3", "/usr/bin/curl": "curl", "/usr/bin/wget": "wget", "/usr/bin/socat": "socat",
    "/usr/bin/ncat": "ncat",
    "/usr/bin/ssh": "openssh-client", "/usr/bin/ssh-keygen": "openssh-client", "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/dig": "bind9-dnsutils", "/usr/bin/git": "git", "/usr/bin/node": "nodejs",
    "/usr/bin/java": "default-jre-headless", "/usr/bin/javac": "default-jdk-headless",
    "/usr/sbin/nginx": "nginx-light", "/usr/lib/postgresql/15/bin/postgres": "postgresql",
    "/usr/lib/postgresql/15/bin/initdb": "postgresql", "/usr/lib/postgresql/15/bin/pg_ctl": "postgresql",
    "/usr/lib/postgresql/15/bin/psql": "postgresql", "/usr/bin/memcached": "memcached",
    "/usr/bin/memccp": "libmemcached-tools", "/usr/bin/memccat": "libmemcached-tools",
    "/usr/bin/memcstat": "libmemcached-tools", "/usr/bin/iperf3": "iperf3", "/usr/sbin/mosquitto": "mosquitto",
    "/usr/bin/mosquitto_pub": "mosquitto-clients", "/usr/bin/mosquitto_sub": "mosquitto-clients",
    "/usr/sbin/lighttpd": "lighttpd",
    "/usr/bin/setpriv": "util-linux", "/usr/bin/prlimit": "util-linux", "/usr/bin/findmnt": "util-linux",
}
PYTHON = "/usr/bin/python3"


def tool(path):
    """`path`, which must exist; says which package installs it if not."""
    expect(os.access(path, os.X_OK), f"{path} is missing: install the Debian package {DEBIAN.get(path, '?')} "
                                     "(tools/install-deps.sh)")
    return path


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
