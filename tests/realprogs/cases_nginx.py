"""nginx under the library: the test's own master, started as root, with
two worker processes that run as nobody; one server serves files, a second
proxies /up/ to the first and /down/ to a closed port. curl (under the same
settings) fetches a file directly and through the proxy, and a missing one;
the proxy to the closed port answers 502 after the worker's refused connect
(the real failure); the same refusal injected on the connect to the live
upstream answers the same 502 and is marked injected with its rule."""
import os
import signal
import time

from harness import case, expect, expect_eq
from modes import closed_port, describe
from debian_tools import tool
from summary_runs import default_runs, expect_records, four_runs
from daemon_control import children, free_port, real_uid, stop, wait_file, wait_listening
from web_servers import WebServer, expect_served, fetch_all, injected_upstream_refusal, refused_scenario, site

NGINX = "/usr/sbin/nginx"
NOBODY = 65534
REFUSED_LOG = "connect() failed (111: Connection refused) while connecting to upstream"


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


class Nginx(WebServer):
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

    def stop(self):
        """Graceful stop (SIGQUIT): the workers finish, the master exits 0."""
        return stop(self.proc, signal.SIGQUIT)



@case("nginx master and workers as nobody serve and proxy")
def nginx_healthy(h):
    tool(NGINX)
    root = site(h)

    def scenario(mode):
        with closed_port() as closed:
            nginx = Nginx(h, mode, root, closed)
            try:
                uids = nginx.uids
                got = fetch_all(h, mode, nginx.port)
            finally:
                status = nginx.stop()
        return uids, got, status, mode.read_err(nginx.err)

    runs = four_runs(h, scenario, [("nginx", ("accept4", "accept")), ("nginx", "connect"), ("nginx", ("recv", "readv")),
                                   ("nginx", ("writev", "write", "send")), ("curl", "connect")])
    uids, got, status, err = runs["plain"][0]
    expect_eq(uids, [NOBODY, NOBODY], "the users the two workers run as")
    expect_served(got)
    expect_eq(status, 0, "nginx's exit status after SIGQUIT", err)
    # The workers (nobody) wrote their own trace records.
    pids = {r["pid"] for r in runs["trace"][1] if r["prog"] == "nginx" and r["call"] in ("accept4", "accept")}
    expect(pids, "no trace record of a worker's accept", describe(runs["trace"][1], 40))


def refused(h, root, closed, prefix, logs, upstream=None):
    return refused_scenario(h, lambda mode: Nginx(h, mode, root, closed, upstream), prefix, logs, REFUSED_LOG)


@case("nginx proxy to a closed port, then the refusal injected")
def nginx_refused(h):
    tool(NGINX)
    root = site(h)
    logs = {}
    with closed_port() as closed:
        runs = four_runs(h, refused(h, root, closed, "down", logs), [("nginx", "connect")], healthy=False)
        expect_eq(runs["plain"][0][0][1], "502", "the HTTP code of the proxy to a closed port")
        expect(runs["plain"][0][2], "nginx did not log the refused connect", logs["plain"][1])
        expect_records(runs, [("nginx", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])
        for name in default_runs(runs):
            records = runs[name][1]
            nginx = logs[name][0]
            expect(records[0]["pid"] in nginx.workers, f"the refusal is not recorded by a worker ({name}): "
                   f"workers {nginx.workers}, master {nginx.master}", describe(records))

    faults = injected_upstream_refusal(h, "nginx",
                                       lambda closed, upstream: refused(h, root, closed, "up", logs, upstream),
                                       runs["plain"][0], "curl and nginx", logs)
    for name, records in faults.items():
        expect(records[0]["pid"] in logs[name][0].workers, f"the injected refusal is not in a worker ({name})",
               describe(records))
