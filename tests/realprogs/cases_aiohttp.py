"""python3-aiohttp: an aiohttp web server and a client session, two asyncio
programs (non-blocking sockets, epoll) on loopback (aiohttp_server.py,
aiohttp_client.py). Healthy: 20 bodies of 64 KiB over the session's
connection; no record at the default level. Refused by a closed port
(learnt through SO_ERROR). Reset by the server after 10000 bytes of the
body, and the same reset injected into the client's reads
(`input:reset:...:after_bytes=`) against a server that sends the whole body:
the client must see the same bytes and the same error, the record marked
with the rule. Each also under `sockdiag run --summary`."""
import os
import re
import subprocess

from harness import case, expect, expect_eq
from modes import Mode, closed_port, describe, three_runs
from debian_tools import PYTHON
from summary_runs import expect_marked, expect_records, finish, four_runs, injected_runs, summary_run

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER, CLIENT = os.path.join(HERE, "aiohttp_server.py"), os.path.join(HERE, "aiohttp_client.py")
FETCHES, BODY, RESET_AFTER = 20, 65536, 10000


def need_aiohttp():
    found = subprocess.run([PYTHON, "-c", "import aiohttp"], capture_output=True, timeout=60).returncode == 0
    expect(found, f"{PYTHON} cannot import aiohttp: install the Debian package python3-aiohttp "
                  "(tools/install-deps.sh)")


class Server:
    """aiohttp_server.py under `mode` (its first line, the port, read);
    stop() gives its status and the rest of its output."""

    def __init__(self, h, mode):
        self.mode = mode
        self.proc = mode.start([PYTHON, "-u", SERVER])
        line = h.read_line(self.proc)
        match = re.fullmatch(r"port (\d+)\n", line)
        expect_eq(bool(match), True, f"aiohttp_server.py's first line {line!r} names its port")
        self.port = int(match.group(1))

    def url(self, query=""):
        return f"http://127.0.0.1:{self.port}/body{query}"

    def stop(self):
        self.proc.terminate()
        return finish(self.mode, self.proc, 30)


def fetch(mode, url, count=1):
    run = mode.run([PYTHON, CLIENT, url, count], timeout=60)
    return run.rc, run.out, run.err


@case("aiohttp server and client session")
def aiohttp_healthy(h):
    need_aiohttp()

    def scenario(mode):
        server = Server(h, mode)
        client = fetch(mode, server.url(), FETCHES)
        return client, server.stop()

    calls = ("socket", "connect", ("accept", "accept4"), "send", "recv", ("epoll_wait", "epoll_pwait"))
    runs = three_runs(h, scenario, [("python3", call) for call in calls])
    client, server = runs["plain"][0]
    expect_eq((client[0], client[2], server), (0, "", (0, f"answered {FETCHES}\n", "")),
              "the client's status and stderr, the server's status and output, without the library")
    expect_eq(len(set(client[1].splitlines())), 1, "the client's answers are all alike", client[1])
    expect_eq(client[1].splitlines()[0].split()[-1], str(BODY), "the body's length", client[1])
    summary_run(h, scenario, runs["plain"][0], healthy=True)


@case("aiohttp client refused by a closed port")
def aiohttp_refused(h):
    need_aiohttp()
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/body"

        def scenario(mode):
            return fetch(mode, url)

        runs = four_runs(h, scenario, [("python3", "connect")], healthy=False)
    expect_eq(runs["plain"][0], (1, f"body 0 error ClientConnectorError errno 111: Cannot connect to host "
                                    f"127.0.0.1:{port} ssl:default [Connect call failed ('127.0.0.1', {port})]\n", ""),
              "the client's status and output, without the library")
    expect_records(runs, [("python3", "connect", "ECONNREFUSED", f"127.0.0.1:{port}", "SO_ERROR", False)],
                   ("prog", "call", "code", "peer", "via", "injected"))


def reset_by_server(mode, h):
    server = Server(h, mode)
    client = fetch(mode, server.url(f"?reset={RESET_AFTER}"))
    return client, server.stop(), server.port


RESET_SEEN = (1, f"body {RESET_AFTER} error ClientPayloadError errno None: Response payload is not completed\n", "")


@case("aiohttp client reset by its server mid-body")
def aiohttp_reset(h):
    need_aiohttp()
    ports = {}

    def scenario(mode):
        client, server, ports[mode.name] = reset_by_server(mode, h)
        return client, server

    runs = three_runs(h, scenario, [("python3", "recv")], healthy=False)
    expect_eq(runs["plain"][0], (RESET_SEEN, (0, "answered 0\n", "")),
              "the client's and the server's status and output, without the library")
    records = runs["default"][1]
    expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["injected"]) for r in records],
              [("python3", "recv", "ECONNRESET", f"127.0.0.1:{ports['default']}", False)],
              "records at the default level", describe(records))
    expect(records[0]["bytes_received"] >= RESET_AFTER, "the record does not count the bytes received before the reset",
           describe(records))
    summary_run(h, scenario, runs["plain"][0])


@case("aiohttp client reset by an injected fault mid-body")
def aiohttp_injected_reset(h):
    need_aiohttp()
    plain = Mode(h, "plain")
    server = Server(h, plain)  # without the library: the fault is the client's
    whole = fetch(plain, server.url())
    match = re.fullmatch(rf"200 header (\d+) body {BODY}\n", whole[1])
    expect_eq((whole[0], bool(match)), (0, True), "a whole body fetched without the library", whole)
    reference = fetch(plain, server.url(f"?reset={RESET_AFTER}"))
    expect_eq(reference, RESET_SEEN, "the client's status and output for a real reset, without the library")
    # The client's connection has received the header and RESET_AFTER bytes
    # of the body when its next read fails, as with the real reset.
    rule = f"input:reset:port={server.port}:after_bytes={int(match.group(1)) + RESET_AFTER}"
    faults = injected_runs(h, lambda mode: fetch(mode, server.url()), [rule], reference)
    expect_marked(h, faults, rule, [("python3", "recv", "ECONNRESET", f"127.0.0.1:{server.port}", "")], 1)
    server.stop()
