"""curl, wget and python3's urllib fetching from python3's http.server on
loopback, all under the library: a 300 KiB file, a small one and a missing
one (404: an HTTP failure, not a socket failure); and curl refused by a
closed port, which the record explains."""
import hashlib
import os
import re

from harness import case, expect_eq
from modes import closed_port, http_server, three_runs
from debian_tools import PYTHON, tool

URLLIB_FETCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "urllib_fetch.py")


def www(h):
    root = h.path("www")
    os.mkdir(root)
    with open(os.path.join(root, "payload.bin"), "wb") as f:
        f.write(os.urandom(300 * 1024))
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("small\n")
    return root


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def outcome(run):
    return run.rc, run.out, run.err


@case("curl http.server")
def curl(h):
    root, curl = www(h), tool("/usr/bin/curl")

    def scenario(mode):
        with http_server(h, mode, root) as base:
            a, b = h.path(f"{mode.name}.a"), h.path(f"{mode.name}.b")
            # Two files over one kept-alive connection, then a 404 (--fail: exit 22).
            both = mode.run([curl, "-sS", "-o", a, f"{base}/payload.bin", "-o", b, f"{base}/small.txt"], timeout=30)
            missing = mode.run([curl, "-sS", "--fail", f"{base}/missing"], timeout=30)
            return outcome(both), digest(a), digest(b), outcome(missing)

    three_runs(h, scenario, [("curl", "connect"), ("curl", "recv"), ("python3", "accept4"), ("python3", "send")])


@case("wget http.server")
def wget(h):
    root, wget = www(h), tool("/usr/bin/wget")

    def scenario(mode):
        with http_server(h, mode, root) as base:
            a = h.path(f"{mode.name}.a")
            got = mode.run([wget, "-q", "-O", a, f"{base}/payload.bin"], timeout=30)
            # A 404 is wget's exit status 8 ("server issued an error response").
            missing = mode.run([wget, "-q", "-O", os.devnull, f"{base}/missing"], timeout=30)
            return outcome(got), digest(a), outcome(missing)

    three_runs(h, scenario, [("wget", "connect"), ("wget", "recv"), ("python3", "accept4")])


@case("python urllib http.server")
def urllib(h):
    root = www(h)

    def scenario(mode):
        with http_server(h, mode, root) as base:
            run = mode.run([PYTHON, URLLIB_FETCH] + [f"{base}/{name}" for name in ("payload.bin", "small.txt",
                                                                                   "missing")], timeout=30)
            return outcome(run)

    three_runs(h, scenario, [("python3", "connect"), ("python3", "accept4")])


@case("curl to a closed port explained via SO_ERROR")
def curl_refused(h):
    curl = tool("/usr/bin/curl")
    with closed_port() as port:
        argv = [curl, "-sS", f"http://127.0.0.1:{port}/"]
        plain = h.run(argv, preload=False, timeout=30)
        run = h.run_logged(argv, timeout=30)
    expect_eq(plain.rc, 7, "curl's exit status for a refused connection", plain.describe())

    # curl says how long it tried ("after 0 ms"): the only part that may differ.
    def same(text):
        return re.sub(r"after \d+ ms", "after N ms", text)

    expect_eq((run.rc, run.out, same(run.err)), (plain.rc, plain.out, same(plain.err)),
              "curl's exit status and output under the library")
    expect_eq(len(run.records), 1, "records", run.describe())
    rec = run.records[0]
    # curl connects without blocking and reads the refusal through SO_ERROR.
    expect_eq((rec["prog"], rec["call"], rec["code"], rec["via"], rec["peer"]),
              ("curl", "connect", "ECONNREFUSED", "SO_ERROR", f"127.0.0.1:{port}"), "the record", run.describe())
