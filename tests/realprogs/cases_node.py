"""Node.js (Debian's nodejs): net and http on both ends of one event loop,
and a refused non-blocking connect, which libuv learns from epoll and
getsockopt(SO_ERROR) and the library records from there."""
import os

from harness import case, expect_eq
from modes import closed_port, describe, three_runs
from debian_tools import tool

HERE = os.path.dirname(os.path.abspath(__file__))


@case("node net and http server and client")
def node_net_http(h):
    node = tool("/usr/bin/node")

    def scenario(mode):
        run = mode.run([node, os.path.join(HERE, "node_net_http.js")], timeout=60)
        return run.rc, run.out, run.err

    calls = ("accept4", "connect", "getsockopt", ("epoll_wait", "epoll_pwait"), "read", "writev")
    runs = three_runs(h, scenario, [("node", call) for call in calls])
    expect_eq(runs["plain"][0], (0, "net: 8 of 8 echoes intact\nhttp: 20 of 20 answers right over 1 connection(s)\n",
                                 ""), "what node did without the library")


@case("node connect to a closed port recorded via SO_ERROR")
def node_refused(h):
    node = tool("/usr/bin/node")
    with closed_port() as port:
        def scenario(mode):
            run = mode.run([node, os.path.join(HERE, "node_refused.js"), port], timeout=60)
            return run.rc, run.out, run.err

        runs = three_runs(h, scenario, [("node", "connect")], healthy=False)
    expect_eq(runs["plain"][0], (0, "error: ECONNREFUSED (connect)\n", ""), "what node did without the library")
    records = runs["default"][1]
    expect_eq(len(records), 1, "records at the default level", describe(records))
    rec = records[0]
    expect_eq((rec["prog"], rec["call"], rec["code"], rec["via"], rec["peer"], rec["level"]),
              ("node", "connect", "ECONNREFUSED", "SO_ERROR", f"127.0.0.1:{port}", "error"), "the record",
              describe(records))
