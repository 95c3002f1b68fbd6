"""memcached under the library: the test's own server on 127.0.0.1 and a
free port (no UDP), started as root and running as nobody, with
libmemcached's clients (memccp stores two files, memccat reads them back,
memcstat asks for the statistics). memccat to a closed port is refused (the
real failure); the same refusal injected on memccat's connect to the live
server prints the same error and is marked injected with its rule. On the
server's side: memcached out of file descriptors (its limit lowered with
prlimit while it runs) fails to accept a client with EMFILE, stops
listening until a connection closes, then serves the client; the same
EMFILE injected on its accept does the same and is marked."""
import os
import resource
import re
import signal
import socket

from harness import case, expect, expect_eq
from modes import closed_port, describe
from debian_tools import tool
from summary_runs import default_runs, expect_marked, expect_records, four_runs, injected_refusal, injected_runs
from daemon_control import runs_as, free_port, stop, wait_listening, wait_text

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
    """-v: it says "Too many open connections" when an accept fails with
    EMFILE. It checks errno after perror(), which keeps it only if it can
    write through a read-write copy of stderr (glibc: fdopen(dup(2), "w+"),
    EINVAL on a write-only stderr) or cannot make that copy (EMFILE): its
    stderr is read-write, as a terminal is."""

    def __init__(self, h, mode, port, user="nobody"):
        self.port = port
        self.err = mode.err_file(f"memcached-{mode.name}", read_write=True)
        self.proc = mode.start([tool(MEMCACHED), "-v", "-l", "127.0.0.1", "-p", port, "-U", "0", "-t", "2", "-u",
                                user], stderr=self.err)
        wait_listening(self.proc, port, "memcached", detail=lambda: mode.read_err(self.err))
        self.as_user = runs_as(mode.program_pid(self.proc), user)

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
                server.as_user)

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
    expect_records(runs, [("memccat", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    injected_refusal(h, "memccat", lambda mode, port: Memcached(h, mode, port),
                     lambda mode, port: client(mode, "memccat", port, "key"), runs["plain"][0], "SO_ERROR",
                     "memccat", stop_status=False)


def lowest_free_fd(pid):
    used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    return min(set(range(len(used) + 1)) - used)


def emfile_scenario(h, source, real):
    """memccp stores a file while memcached cannot accept (`real`: its fd
    limit is the lowest free fd until it has said so; otherwise the fault
    is injected on its second accept). memcached listens again once a
    connection closes: a first client of the test's, idle until then, ends.
    memccat reads the file back, memcstat counts the times memcached
    stopped listening."""

    def scenario(mode):
        # As root: lowering the fd limit of a process of another user takes
        # CAP_SYS_RESOURCE, which a container may not give.
        server = Memcached(h, mode, free_port(), user="root")
        try:
            pid = mode.program_pid(server.proc)
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle:
                idle.sendall(b"version\r\n")
                expect(idle.recv(100).startswith(b"VERSION "), "memcached did not answer the idle client")
                if real:
                    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
                    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_fd(pid), limits[1]))
                store_err = mode.err_file(f"memccp-{mode.name}")
                store = mode.start([tool("/usr/bin/memccp"), f"--servers=127.0.0.1:{server.port}", source],
                                   stderr=store_err)
                wait_text(lambda: mode.read_err(server.err), server.proc, "Too many open connections", "memcached")
                if real:
                    resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
            out, _ = store.communicate(timeout=60)
            stored = store.returncode, out.decode(errors="replace"), mode.read_err(store_err)
            back = client(mode, "memccat", server.port, os.path.basename(source))
            stats = client(mode, "memcstat", server.port)
            disabled = re.search(r"listen_disabled_num: (\d+)", stats[1])
        finally:
            status = server.stop()
        return (stored, back, stats[0], bool(disabled) and int(disabled.group(1)) >= 1, status,
                "Too many open connections" in mode.read_err(server.err))
    return scenario


@case("memcached out of file descriptors, then EMFILE injected on its accept")
def memcached_emfile(h):
    source = files(h)[1]
    with open(source) as f:
        text = f.read()
    # Under `sockdiag run` the log is one file per process (%p), made by its
    # first record: memcached, out of fds at its first failure, cannot make
    # it, and that record is counted as dropped.
    runs = four_runs(h, emfile_scenario(h, source, real=True), [("memcached", ("accept", "accept4"))], healthy=False,
                     dropped=1)
    expect_eq(runs["plain"][0], ((0, "", ""), (0, text + "\n", ""), 0, True, 0, True),
              "memccp's status and output, memccat's (the file), memcstat's status, memcached stopped listening, "
              "its status, its message")
    # The same holds for the default runs' %p logs: the record is lost
    # there (no summary says so in those runs; the summary run counts it).
    for name in default_runs(runs):
        records = runs[name][1]
        expect(all((r["prog"], r["call"], r["code"], r["injected"]) == ("memcached", "accept4", "EMFILE", False)
                   for r in records),
               f"records at the default level ({name}): not memcached's accept failing with EMFILE",
               describe(records))

    rule = "accept:error=EMFILE:nth=2:prog=memcached"
    faults = injected_runs(h, emfile_scenario(h, source, real=False), [rule], runs["plain"][0],
                           "memcached (EMFILE injected vs out of fds)")
    expect_marked(h, faults, rule, [("memcached", "accept4", "EMFILE", "", "")], 1)
