"""What the nginx and lighttpd cases share: the document root, curl's
fetches and their checks, the error log, and the proxy to a refused
upstream (real, then injected)."""
import hashlib
import os
import shutil

from harness import expect_eq
from debian_tools import tool
from summary_runs import expect_marked, injected_runs
from daemon_control import free_port

PATHS = (("payload.bin", "direct"), ("up/payload.bin", "proxied"), ("up/small.txt", "small"), ("missing", "missing"))


def site(h, copy_up=False):
    """The document root, readable by nobody; with `copy_up`, up/ holds a
    copy of the files (for a proxy that passes the path on as it is)."""
    os.chmod(h.tmp, 0o755)
    root = h.path("www")
    os.makedirs(os.path.join(root, "up") if copy_up else root)
    with open(os.path.join(root, "payload.bin"), "wb") as f:
        f.write(os.urandom(300 * 1024))
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("small\n")
    if copy_up:
        for name in ("payload.bin", "small.txt"):
            shutil.copy(os.path.join(root, name), os.path.join(root, "up", name))
    for top, dirs, names in os.walk(root):
        os.chmod(top, 0o755)
        for name in names:
            os.chmod(os.path.join(top, name), 0o644)
    return root


class WebServer:
    """A server under test whose files are under `self.base`."""

    def error_log(self):
        try:
            with open(f"{self.base}/error.log", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no error log)"


def fetch(h, mode, url, tag):
    """curl's status, the HTTP code and a digest of the body."""
    out = h.path(f"{mode.name}.{tag}")
    run = mode.run([tool("/usr/bin/curl"), "-sS", "-o", out, "-w", "%{http_code}", url], timeout=60)
    with open(out, "rb") as f:
        body = hashlib.sha256(f.read()).hexdigest()
    return run.rc, run.out, run.err, body


def fetch_all(h, mode, port):
    """A file directly and through the proxy, a small one through the
    proxy, and a missing one."""
    return [fetch(h, mode, f"http://127.0.0.1:{port}/{path}", tag) for path, tag in PATHS]


def expect_served(got):
    expect_eq([g[1] for g in got], ["200", "200", "200", "404"], "the HTTP codes curl got", got)
    expect_eq(got[0][3], got[1][3], "the file fetched directly and through the proxy")


def refused_scenario(h, start, prefix, logs, logged=None):
    """curl fetches through the proxy under `prefix` of the server
    `start(mode)`; the result is curl's, the server's stop status, and
    whether its error log holds `logged` (if given). logs[run name]: the
    server and its error log."""
    def scenario(mode):
        server = start(mode)
        try:
            got = fetch(h, mode, f"http://127.0.0.1:{server.port}/{prefix}/small.txt", "refused")
        finally:
            status = server.stop()
        logs[mode.name] = (server, server.error_log())
        return (got, status) + ((logged in logs[mode.name][1],) if logged is not None else ())
    return scenario


def injected_upstream_refusal(h, prog, scenario_for, reference, what, logs):
    """The refusal of `prog`'s connect to the live upstream injected (its
    port chosen before, for the rule): `scenario_for(closed, upstream)` must
    show `reference`, what the real refusal showed; the one record is the
    marked connect. Returns injected_runs'."""
    upstream = free_port()
    rule = f"connect:error=ECONNREFUSED:port={upstream}:prog={prog}"
    faults = injected_runs(h, scenario_for(free_port(), upstream), [rule], reference, what,
                           lambda name: logs[name][1])
    expect_marked(h, faults, rule, [(prog, "connect", "ECONNREFUSED", f"127.0.0.1:{upstream}", "SO_ERROR")], 1)
    return faults
