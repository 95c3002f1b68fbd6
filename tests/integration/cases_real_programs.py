"""Real programs under the library: curl and python3's urllib fetching from
python3's http.server on loopback. A normal run changes nothing and writes no
record at the default level; a refused one is explained."""
import contextlib
import os
import re
import shutil
import socket
import sys

from harness import case, expect, expect_eq, read_records, select_records

# Debian's own python3 (not a version manager's wrapper script around it).
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
URLLIB_FETCH = "import sys, urllib.request; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1]).read())"


@contextlib.contextmanager
def http_server(h):
    """python3 -m http.server on 127.0.0.1 and a port the kernel picks,
    itself running under the library; yields (url of the payload, payload,
    server log)."""
    root = h.path("www")
    os.mkdir(root)
    payload = os.urandom(300 * 1024)
    with open(os.path.join(root, "payload.bin"), "wb") as f:
        f.write(payload)
    log = h.new_log("server")
    with open(h.path("server.stderr"), "wb") as access_log:
        server = h.start([PYTHON, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, "0"],
                         settings={"LOG": log, "FORMAT": "json"}, stderr=access_log)
    line = h.read_line(server)
    match = re.search(r"port (\d+)", line)
    expect(match, f"http.server said {line!r}, not its port")
    yield f"http://127.0.0.1:{match.group(1)}/payload.bin", payload, log
    server.kill()
    server.wait()


def check_fetch(h, argv, name):
    """Fetches the payload with `argv(url, output file)` without and with the
    library: same exit status, output and bytes, and no record."""
    with http_server(h) as (url, payload, server_log):
        out = h.path(name)
        plain = h.run(argv(url, out + ".plain"), preload=False, timeout=30).expect_rc(0)
        run = h.run_logged(argv(url, out + ".hooked"), timeout=30).expect_rc(0)
        expect_eq((run.out, run.err), (plain.out, plain.err), f"{name}'s own output")
        for suffix in (".plain", ".hooked"):
            with open(out + suffix, "rb") as f:
                expect(f.read() == payload, f"{name} fetched other bytes ({suffix[1:]})")
        expect_eq(run.records, [], f"records of {name} at the default level", run.describe())
        # The same fetch at trace level proves that the library was there.
        traced = h.run_logged(argv(url, out + ".traced"), settings={"LEVEL": "trace"}, timeout=30).expect_rc(0)
        expect(select_records(traced.records, call="connect"), f"no trace record of {name}'s connect",
               traced.describe())
        with open(out + ".traced", "rb") as f:
            expect(f.read() == payload, f"{name} fetched other bytes at trace level")
    expect_eq(read_records(server_log), [], "records of http.server at the default level")


@case("curl from http.server unchanged and silent")
def curl_fetch(h):
    expect(shutil.which("curl"), "curl is not installed")
    check_fetch(h, lambda url, out: ["curl", "-sS", "-o", out, url], "curl")


@case("python urllib from http.server unchanged and silent")
def urllib_fetch(h):
    check_fetch(h, lambda url, out: [PYTHON, "-c", URLLIB_FETCH, url, out], "urllib")


@case("curl to a closed port explained via SO_ERROR")
def curl_refused(h):
    expect(shutil.which("curl"), "curl is not installed")
    # Bound but not listening: the port stays ours, and connects to it are refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        argv = ["curl", "-sS", f"http://127.0.0.1:{port}/"]
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
    expect_eq((rec["prog"], rec["call"], rec["code"], rec["via"], rec["peer"]),
              ("curl", "connect", "ECONNREFUSED", "SO_ERROR", f"127.0.0.1:{port}"), "the record", run.describe())
