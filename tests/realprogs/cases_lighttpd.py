"""lighttpd under the library: the test's own server in the foreground
(started as root, it runs as nobody) on two loopback ports; the first
proxies /up/ to the second (mod_proxy) and /down/ to a closed port. curl
(under the same settings) fetches a file directly and through the proxy,
and a missing one; the proxy to the closed port answers 503 after the
refused connect (the real failure); the same refusal injected on the
connect to the live upstream answers the same 503 and is marked injected
with its rule."""
import os
import signal

from harness import case, expect_eq
from modes import closed_port
from debian_tools import tool
from summary_runs import expect_records, four_runs
from daemon_control import runs_as, free_port, stop, wait_listening
from web_servers import WebServer, expect_served, fetch_all, injected_upstream_refusal, refused_scenario, site

LIGHTTPD = "/usr/sbin/lighttpd"


class Lighttpd(WebServer):
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

    def stop(self):
        """Whether lighttpd ended by itself on SIGTERM: its status is 0 or 1
        from run to run, without the library too."""
        return stop(self.proc, signal.SIGTERM) in (0, 1)



@case("lighttpd as nobody serves and proxies")
def lighttpd_healthy(h):
    tool(LIGHTTPD)
    root = site(h, copy_up=True)

    def scenario(mode):
        with closed_port() as closed:
            server = Lighttpd(h, mode, root, closed)
            try:
                got = fetch_all(h, mode, server.port)
            finally:
                status = server.stop()
        return got, status, mode.read_err(server.err), server.as_nobody

    runs = four_runs(h, scenario, [("lighttpd", ("accept4", "accept")), ("lighttpd", "connect"),
                                   ("lighttpd", ("read", "recv")), ("curl", "connect")])
    got, status, err, as_nobody = runs["plain"][0]
    expect_served(got)
    expect_eq((status, err, as_nobody), (True, "", True), "lighttpd's exit after SIGTERM, its stderr, lighttpd "
              "running as nobody")


def refused(h, root, closed, prefix, logs, upstream=None):
    return refused_scenario(h, lambda mode: Lighttpd(h, mode, root, closed, upstream), prefix, logs)


@case("lighttpd proxy to a closed port, then the refusal injected")
def lighttpd_refused(h):
    tool(LIGHTTPD)
    root = site(h, copy_up=True)
    logs = {}
    with closed_port() as closed:
        runs = four_runs(h, refused(h, root, closed, "down", logs), [("lighttpd", "connect")], healthy=False)
        expect_eq(runs["plain"][0][0][1], "503", "the HTTP code of the proxy to a closed port", logs["plain"][1])
        expect_records(runs, [("lighttpd", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    injected_upstream_refusal(h, "lighttpd", lambda closed, upstream: refused(h, root, closed, "up", logs, upstream),
                              runs["plain"][0], "curl and lighttpd", logs)
