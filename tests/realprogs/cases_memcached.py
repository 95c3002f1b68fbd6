"""memcached under the library: the test's own server on 127.0.0.1 and a
free port (no UDP), started as root and running as nobody, with
libmemcached's clients (memccp stores two files, memccat reads them back,
memcstat asks for the statistics). memccat to a closed port is refused (the
real failure); the same refusal injected on memccat's connect to the live
server prints the same error and is marked injected with its rule."""
import os
import re
import signal

from harness import case, expect, expect_eq
from modes import closed_port, describe
from proof import tool
from summary_runs import four_runs, injected_runs
from daemon_control import runs_as, free_port, stop, wait_listening

MEMCACHED = "/usr/bin/memcached"


def files(h):
    """Two files of random text (memccat's output is compared as text)."""
    names = []
    for name, size in (("big.txt", 100 * 1024), ("small.txt", 50)):
        path = h.path(name)
        with open(path, "w") as f:
            f.write(os.urandom(size).hex())
        names.append(path)
    return names


class Memcached:
    def __init__(self, h, mode, port):
        self.port = port
        self.err = mode.err_file(f"memcached-{mode.name}")
        self.proc = mode.start([tool(MEMCACHED), "-l", "127.0.0.1", "-p", port, "-U", "0", "-t", "2", "-u", "nobody"],
                               stderr=self.err)
        wait_listening(self.proc, port, "memcached", detail=lambda: mode.read_err(self.err))
        self.as_nobody = runs_as(mode.program_pid(self.proc), "nobody")

    def stop(self):
        return stop(self.proc, signal.SIGTERM)


def client(mode, prog, port, *args):
    """The status and output; in the error message, the port is PORT and
    the address of libmemcached's error structure ADDR."""
    run = mode.run([tool(f"/usr/bin/{prog}"), f"--servers=127.0.0.1:{port}"] + list(args), timeout=60)
    return run.rc, run.out, re.sub(r"\(0x[0-9a-f]+\)", "(ADDR)", run.err.replace(str(port), "PORT"))


@case("memcached with the libmemcached clients")
def memcached_healthy(h):
    big, small = files(h)
    # memccat ends each value with a newline.
    stored_text = "".join(open(p).read() + "\n" for p in (big, small))

    def scenario(mode):
        server = Memcached(h, mode, free_port())
        try:
            stored = client(mode, "memccp", server.port, big, small)
            back = client(mode, "memccat", server.port, os.path.basename(big), os.path.basename(small))
            stats = client(mode, "memcstat", server.port)
        finally:
            status = server.stop()
        return (stored, back[0], back[1] == stored_text, back[2], stats[0], "curr_items: 2" in stats[1], status,
                server.as_nobody)

    runs = four_runs(h, scenario, [("memcached", ("accept", "accept4")), ("memcached", ("read", "recv", "recvfrom")),
                                   ("memcached", ("sendmsg", "write", "send")), ("memccp", "connect"),
                                   ("memccat", ("recv", "recvfrom", "read"))])
    expect_eq(runs["plain"][0][:6] + runs["plain"][0][7:], ((0, "", ""), 0, True, "", 0, True, True),
              "memccp's status and output, memccat's status, output (the files) and stderr, memcstat's status and "
              "the items it counts, memcached running as nobody")


@case("memccat refused by a closed port, then the refusal injected")
def memcached_refused(h):
    with closed_port() as closed:
        def scenario(mode):
            return client(mode, "memccat", closed, "key")

        runs = four_runs(h, scenario, [("memccat", "connect")], healthy=False)
    rc, out, err = runs["plain"][0]
    expect(rc != 0, "memccat succeeded against a closed port", runs["plain"][0])
    for name in ("default", "summary"):
        records = runs[name][1]
        expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["injected"]) for r in records],
                  [("memccat", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)],
                  f"records at the default level ({name})", describe(records))

    port = free_port()
    rule = f"connect:error=ECONNREFUSED:port={port}:prog=memccat"

    def injected(mode):
        server = Memcached(h, mode, port)
        try:
            got = client(mode, "memccat", port, "key")
        finally:
            status = server.stop()
        return got, status

    for name, (result, records) in injected_runs(h, injected, rule).items():
        expect_eq(result[0], runs["plain"][0], f"memccat with the injected refusal ({name}) vs the real one")
        expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["injected"], r["rule"]) for r in records],
                  [("memccat", "connect", "ECONNREFUSED", f"127.0.0.1:{port}", True, rule)],
                  f"records of the injected refusal ({name})", describe(records))
