"""curl, wget and python3's urllib fetching from python3's http.server on
loopback, all under the library: a 300 KiB file, a small one and a missing
one (404: an HTTP failure, not a socket failure)."""
import hashlib
import os

from harness import case
from modes import http_server, three_runs
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
