"""lighttpd under the library: the test's own server in the foreground
(started as root, it runs as nobody) on two loopback ports; the first
proxies /up/ to the second (mod_proxy) and /down/ to a closed port. curl
(under the same settings) fetches a file directly and through the proxy,
and a missing one; the proxy to the closed port answers 503 after the
refused connect (the real failure); the same refusal injected on the
connect to the live upstream answers the same 503 and is marked injected
with its rule."""
import hashlib
import os
import shutil
import signal

from harness import case, expect_eq
from modes import closed_port
from proof import tool
from summary_runs import expect_marked, expect_records, four_runs, injected_runs
from daemon_control import runs_as, free_port, stop, wait_listening

LIGHTTPD = "/usr/sbin/lighttpd"


def site(h):
    """The document root, readable by nobody; up/ holds what the proxy
    fetches (the path is passed on as it is)."""
    root = h.path("www")
    os.makedirs(os.path.join(root, "up"))
    with open(os.path.join(root, "payload.bin"), "wb") as f:
        f.write(os.urandom(300 * 1024))
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("small\n")
    for name in ("payload.bin", "small.txt"):
        shutil.copy(os.path.join(root, name), os.path.join(root, "up", name))
    for top, dirs, names in os.walk(root):
        os.chmod(top, 0o755)
        for name in names:
            os.chmod(os.path.join(top, name), 0o644)
    return root


class Lighttpd:
    def __init__(self, h, mode, root, closed, upstream=None):
        self.port, self.upstream = free_port(), upstream or free_port()
        self.base = h.path(f"lighttpd-{mode.name}")
        os.mkdir(self.base)
        os.chmod(self.base, 0o777)  # lighttpd opens its error log once it runs as nobody
        conf = os.path.join(self.base, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(f"""server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{self.base}/error.log"
server.username = "nobody"
server.groupname = "nogroup"
server.modules = ("mod_proxy")
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/octet-stream")
$SERVER["socket"] == "127.0.0.1:{self.upstream}" {{ }}
$SERVER["socket"] == "127.0.0.1:{self.port}" {{
  $HTTP["url"] =~ "^/up/" {{ proxy.server = ("" => (("host" => "127.0.0.1", "port" => {self.upstream}))) }}
  $HTTP["url"] =~ "^/down/" {{ proxy.server = ("" => (("host" => "127.0.0.1", "port" => {closed}))) }}
}}
""")
        self.err = mode.err_file(f"lighttpd-{mode.name}")
        self.proc = mode.start([tool(LIGHTTPD), "-D", "-f", conf], stderr=self.err)
        for port in (self.port, self.upstream):
            wait_listening(self.proc, port, "lighttpd", detail=self.error_log)
        self.as_nobody = runs_as(mode.program_pid(self.proc), "nobody")

    def error_log(self):
        try:
            with open(f"{self.base}/error.log", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no error log)"

    def stop(self):
        """Whether lighttpd ended by itself on SIGTERM: its status is 0 or 1
        from run to run, without the library too."""
        return stop(self.proc, signal.SIGTERM) in (0, 1)


def fetch(h, mode, url, tag):
    """curl's status, the HTTP code and a digest of the body."""
    out = h.path(f"{mode.name}.{tag}")
    run = mode.run([tool("/usr/bin/curl"), "-sS", "-o", out, "-w", "%{http_code}", url], timeout=60)
    with open(out, "rb") as f:
        body = hashlib.sha256(f.read()).hexdigest()
    return run.rc, run.out, run.err, body


@case("lighttpd as nobody serves and proxies")
def lighttpd_healthy(h):
    tool(LIGHTTPD)
    root = site(h)

    def scenario(mode):
        with closed_port() as closed:
            server = Lighttpd(h, mode, root, closed)
            try:
                base = f"http://127.0.0.1:{server.port}"
                got = [fetch(h, mode, f"{base}/{path}", tag) for path, tag in
                       (("payload.bin", "direct"), ("up/payload.bin", "proxied"), ("up/small.txt", "small"),
                        ("missing", "missing"))]
            finally:
                status = server.stop()
        return got, status, mode.read_err(server.err), server.as_nobody

    runs = four_runs(h, scenario, [("lighttpd", ("accept4", "accept")), ("lighttpd", "connect"),
                                   ("lighttpd", ("read", "recv")), ("curl", "connect")])
    got, status, err, as_nobody = runs["plain"][0]
    expect_eq([g[1] for g in got], ["200", "200", "200", "404"], "the HTTP codes curl got", got)
    expect_eq(got[0][3], got[1][3], "the file fetched directly and through the proxy")
    expect_eq((status, err, as_nobody), (True, "", True), "lighttpd's exit after SIGTERM, its stderr, lighttpd "
              "running as nobody")


def refused_scenario(h, root, closed, prefix, logs, upstream=None):
    def scenario(mode):
        server = Lighttpd(h, mode, root, closed, upstream)
        try:
            got = fetch(h, mode, f"http://127.0.0.1:{server.port}/{prefix}/small.txt", "refused")
        finally:
            status = server.stop()
        logs[mode.name] = server.error_log()
        return got, status
    return scenario


@case("lighttpd proxy to a closed port, then the refusal injected")
def lighttpd_refused(h):
    tool(LIGHTTPD)
    root = site(h)
    logs = {}
    with closed_port() as closed:
        runs = four_runs(h, refused_scenario(h, root, closed, "down", logs), [("lighttpd", "connect")], healthy=False)
        expect_eq(runs["plain"][0][0][1], "503", "the HTTP code of the proxy to a closed port", logs["plain"])
        expect_records(runs, [("lighttpd", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    upstream = free_port()
    rule = f"connect:error=ECONNREFUSED:port={upstream}:prog=lighttpd"
    scenario = refused_scenario(h, root, free_port(), "up", logs, upstream)
    faults = injected_runs(h, scenario, [rule], runs["plain"][0], "curl and lighttpd",
                           lambda name: logs[name])
    expect_marked(h, faults, rule, [("lighttpd", "connect", "ECONNREFUSED", f"127.0.0.1:{upstream}", "SO_ERROR")], 1)
