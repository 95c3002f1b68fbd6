"""nginx under the library: the test's own master, started as root, with
two worker processes that run as nobody; one server serves files, a second
proxies /up/ to the first and /down/ to a closed port. curl (under the same
settings) fetches a file directly and through the proxy, and a missing one;
the proxy to the closed port answers 502 after the worker's refused connect
(the real failure); the same refusal injected on the connect to the live
upstream answers the same 502 and is marked injected with its rule."""
import hashlib
import os
import signal
import time

from harness import case, expect, expect_eq
from modes import closed_port, describe
from proof import tool
from summary_runs import default_runs, expect_marked, expect_records, four_runs, injected_runs
from daemon_control import children, free_port, real_uid, stop, wait_file, wait_listening

NGINX = "/usr/sbin/nginx"
NOBODY = 65534
REFUSED_LOG = "connect() failed (111: Connection refused) while connecting to upstream"


def site(h):
    """The document root, readable by nobody."""
    os.chmod(h.tmp, 0o755)
    root = h.path("www")
    os.mkdir(root)
    with open(os.path.join(root, "payload.bin"), "wb") as f:
        f.write(os.urandom(300 * 1024))
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("small\n")
    for name in ("payload.bin", "small.txt"):
        os.chmod(os.path.join(root, name), 0o644)
    os.chmod(root, 0o755)
    return root


def config(h, mode, root, port, upstream, closed):
    base = h.path(f"nginx-{mode.name}")
    os.mkdir(base)
    temp = "\n".join(f"  {kind}_temp_path {base}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                        "scgi"))
    path = os.path.join(base, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"""user nobody nogroup;
worker_processes 2;
daemon off;
master_process on;
pid {base}/nginx.pid;
error_log {base}/error.log notice;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{upstream};
    root {root};
  }}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /up/ {{ proxy_pass http://127.0.0.1:{upstream}/; }}
    location /down/ {{ proxy_pass http://127.0.0.1:{closed}/; }}
  }}
}}
""")
    return base, path


class Nginx:
    """The test's nginx under `mode`: the master in the foreground."""

    def __init__(self, h, mode, root, closed, upstream=None):
        self.port, self.upstream = free_port(), upstream or free_port()
        self.base, conf = config(h, mode, root, self.port, self.upstream, closed)
        self.err = mode.err_file(f"nginx-{mode.name}")
        self.proc = mode.start([tool(NGINX), "-p", self.base, "-e", f"{self.base}/error.log", "-c", conf],
                               stderr=self.err)
        for port in (self.port, self.upstream):
            wait_listening(self.proc, port, "nginx", detail=self.error_log)
        self.master = int(wait_file(f"{self.base}/nginx.pid", self.proc, "nginx"))
        self.workers, self.uids = self.wait_workers()

    def wait_workers(self, timeout=30):
        """The two workers and the users they run as, once they dropped to
        nobody (a forked worker is root until it sets its user) or after
        `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            workers = children(self.master)
            try:
                uids = sorted(real_uid(pid) for pid in workers)
            except FileNotFoundError:
                uids = []
            if (len(uids) == 2 and set(uids) == {NOBODY}) or time.monotonic() > deadline:
                return workers, uids
            time.sleep(0.05)

    def error_log(self):
        try:
            with open(f"{self.base}/error.log", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no error log)"

    def stop(self):
        """Graceful stop (SIGQUIT): the workers finish, the master exits 0."""
        return stop(self.proc, signal.SIGQUIT)


def fetch(h, mode, url, tag):
    """curl's status, the HTTP code and a digest of the body."""
    out = h.path(f"{mode.name}.{tag}")
    run = mode.run([tool("/usr/bin/curl"), "-sS", "-o", out, "-w", "%{http_code}", url], timeout=60)
    with open(out, "rb") as f:
        body = hashlib.sha256(f.read()).hexdigest()
    return run.rc, run.out, run.err, body


@case("nginx master and workers as nobody serve and proxy")
def nginx_healthy(h):
    tool(NGINX)
    root = site(h)

    def scenario(mode):
        with closed_port() as closed:
            nginx = Nginx(h, mode, root, closed)
            try:
                uids = nginx.uids
                base = f"http://127.0.0.1:{nginx.port}"
                got = [fetch(h, mode, f"{base}/{path}", tag) for path, tag in
                       (("payload.bin", "direct"), ("up/payload.bin", "proxied"), ("up/small.txt", "small"),
                        ("missing", "missing"))]
            finally:
                status = nginx.stop()
        return uids, got, status, mode.read_err(nginx.err)

    runs = four_runs(h, scenario, [("nginx", ("accept4", "accept")), ("nginx", "connect"), ("nginx", ("recv", "readv")),
                                   ("nginx", ("writev", "write", "send")), ("curl", "connect")])
    uids, got, status, err = runs["plain"][0]
    expect_eq(uids, [NOBODY, NOBODY], "the users the two workers run as")
    expect_eq([g[1] for g in got], ["200", "200", "200", "404"], "the HTTP codes curl got", got)
    expect_eq(got[0][3], got[1][3], "the file fetched directly and through the proxy")
    expect_eq(status, 0, "nginx's exit status after SIGQUIT", err)
    # The workers (nobody) wrote their own trace records.
    pids = {r["pid"] for r in runs["trace"][1] if r["prog"] == "nginx" and r["call"] in ("accept4", "accept")}
    expect(pids, "no trace record of a worker's accept", describe(runs["trace"][1], 40))


def refused_scenario(h, root, closed, prefix, logs, upstream=None):
    def scenario(mode):
        nginx = Nginx(h, mode, root, closed, upstream)
        try:
            got = fetch(h, mode, f"http://127.0.0.1:{nginx.port}/{prefix}/small.txt", "refused")
        finally:
            status = nginx.stop()
        logs[mode.name] = (nginx, nginx.error_log())
        return got, status, REFUSED_LOG in logs[mode.name][1]
    return scenario


@case("nginx proxy to a closed port, then the refusal injected")
def nginx_refused(h):
    tool(NGINX)
    root = site(h)
    logs = {}
    with closed_port() as closed:
        runs = four_runs(h, refused_scenario(h, root, closed, "down", logs), [("nginx", "connect")], healthy=False)
        expect_eq(runs["plain"][0][0][1], "502", "the HTTP code of the proxy to a closed port")
        expect(runs["plain"][0][2], "nginx did not log the refused connect", logs["plain"][1])
        expect_records(runs, [("nginx", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])
        for name in default_runs(runs):
            records = runs[name][1]
            nginx = logs[name][0]
            expect(records[0]["pid"] in nginx.workers, f"the refusal is not recorded by a worker ({name}): "
                   f"workers {nginx.workers}, master {nginx.master}", describe(records))

    # The same refusal injected on the connect to the live upstream (its
    # port chosen before, for the rule).
    upstream = free_port()
    rule = f"connect:error=ECONNREFUSED:port={upstream}:prog=nginx"
    scenario = refused_scenario(h, root, free_port(), "up", logs, upstream)
    faults = injected_runs(h, scenario, [rule], runs["plain"][0], "curl and nginx",
                           lambda name: logs[name][1])
    expect_marked(h, faults, rule, [("nginx", "connect", "ECONNREFUSED", f"127.0.0.1:{upstream}", "SO_ERROR")],
                  1)
    for name, records in faults.items():
        expect(records[0]["pid"] in logs[name][0].workers, f"the injected refusal is not in a worker ({name})",
               describe(records))
