"""curl under injected faults, against HTTP servers on loopback (not under
the library): a refused connect, a failed name lookup, 1-byte sends during an
upload, and a connect timeout against curl's own --connect-timeout."""
import hashlib
import os
import shutil
import sys
import time

from inject_harness import Hosts, Skipped, case, expect, expect_eq, wait_for_line

HERE = os.path.dirname(os.path.abspath(__file__))


def curl():
    path = shutil.which("curl")
    if path is None:
        raise Skipped("curl is not installed")
    return path


def http_server(h):
    """python3 -m http.server on an ephemeral loopback port, serving a file
    of its own; returns the port."""
    root = h.path("www")
    os.mkdir(root)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello\n")
    proc = h.start([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root],
                   preload=False)
    return int(wait_for_line(proc, r"port (\d+)").group(1))


def upload_server(h):
    store = h.path("uploads")
    os.mkdir(store)
    proc = h.start([sys.executable, os.path.join(HERE, "upload_server.py"), store], preload=False)
    return int(wait_for_line(proc, r"port (\d+)").group(1)), store


@case("curl connect refused")
def _(h):
    port = http_server(h)
    url = f"http://127.0.0.1:{port}/hello.txt"
    plain = h.run([curl(), "-sS", url]).expect_rc(0)
    expect_eq(plain.out, "hello\n", "curl without rules", plain.describe())
    run = h.run([curl(), "-sS", url], inject=f"connect:error=ECONNREFUSED:port={port}")
    expect_eq(run.rc, 7, "curl's exit status (7: failed to connect)", run.describe())
    expect("Couldn't connect to server" in run.err, "curl does not say it could not connect", run.describe())
    recs = run.injected(call="connect")
    expect_eq([(r["code"], r["via"], r["rule"]) for r in recs],
              [("ECONNREFUSED", "SO_ERROR", f"connect:error=ECONNREFUSED:port={port}")],
              "injected records (curl connects non-blocking and reads SO_ERROR)", run.describe())


@case("curl name lookup failure")
def _(h):
    hosts = Hosts(h)
    port = http_server(h)
    url = f"http://{hosts.name}:{port}/hello.txt"
    plain = h.run([curl(), "-sS", url], wrap=hosts.wrap).expect_rc(0)
    expect_eq(plain.out, "hello\n", f"curl without rules ({hosts.name} from /etc/hosts)", plain.describe())
    for code in ("EAI_NONAME", "EAI_AGAIN", "EAI_FAIL"):
        rule = f"getaddrinfo:error={code}:host={hosts.name}"
        run = h.run([curl(), "-sS", url], inject=rule, wrap=hosts.wrap)
        expect_eq(run.rc, 6, f"{code}: curl's exit status (6: could not resolve host)", run.describe())
        expect(f"Could not resolve host: {hosts.name}" in run.err, f"{code}: curl does not say it could not resolve",
               run.describe())
        expect_eq([(r["code"], r["host"], r["rule"]) for r in run.injected()], [(code, hosts.name, rule)],
                  f"{code}: injected records", run.describe())


def upload_through(h, inject, settings=None):
    """curl uploads 100 KiB of random bytes to the upload server under
    `inject`; the server must have stored them intact. Returns the run."""
    port, store = upload_server(h)
    body = os.urandom(100 * 1024)
    src = h.path("body.bin")
    with open(src, "wb") as f:
        f.write(body)
    # "Expect:" off: the server speaks HTTP/1.0 and sends no 100 Continue.
    run = h.run([curl(), "-sS", "-H", "Expect:", "--data-binary", f"@{src}", f"http://127.0.0.1:{port}/up"],
                inject=inject, settings=settings, timeout=90).expect_rc(0)
    expect_eq(run.out.strip(), str(len(body)), "the length the server says it stored", run.describe())
    with open(os.path.join(store, "upload.1"), "rb") as f:
        stored = f.read()
    expect_eq(hashlib.sha256(stored).hexdigest(), hashlib.sha256(body).hexdigest(),
              f"sha256 of the {len(stored)} bytes the server stored, against the {len(body)} sent", run.describe())
    return run


@case("curl upload with 1-byte sends arrives intact")
def _(h):
    run = upload_through(h, "send:short=1")
    count = run.rule_counts().get("send:short=1", 0)
    expect(count > 100 * 1024, f"the summary counts {count} sends for a 100 KiB body at 1 byte per send",
           run.describe())


@case("curl connect timeout leaves curl's own timeout in charge")
def _(h):
    port = http_server(h)
    start = time.monotonic()
    run = h.run([curl(), "-sS", "--connect-timeout", "1", f"http://127.0.0.1:{port}/hello.txt"],
                inject="connect:timeout=4s")
    took = time.monotonic() - start
    expect_eq(run.rc, 28, "curl's exit status (28: timed out)", run.describe())
    # A connect that times out after 4 s leaves curl's 1 s limit to act first.
    # Had it not, curl would end after 4 s: anything below leaves a loaded
    # machine almost 3 s for start-up and scheduling.
    expect(took < 3.9, f"curl --connect-timeout 1 took {took:.1f} s: it could not enforce its own timeout during "
                     "the injected 4 s connect timeout", run.describe())
