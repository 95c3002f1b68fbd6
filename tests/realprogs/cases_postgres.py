"""PostgreSQL under the library: the test's own cluster (initdb into a
temporary directory as the user postgres, without the library), its
postmaster in the foreground as postgres on 127.0.0.1 and a free port
(no Unix socket), and psql's queries over TCP: a table written and summed,
a 1 MB value read back. psql to a closed port is refused (the real
failure); the same refusal injected on psql's connect to the live server
prints the same message and is marked injected with its rule."""
import os
import pwd
import re
import signal
import subprocess

from harness import Skipped, case, expect, expect_eq
from modes import closed_port
from debian_tools import tool
from summary_runs import RunMode, expect_records, four_runs, injected_refusal, summary_run, under_sanitizer
from daemon_control import free_port, stop, wait_text

BIN = "/usr/lib/postgresql/15/bin"
SETPRIV = "/usr/bin/setpriv"
QUERIES = ("create table t (n int, s text); insert into t select n, md5(n::text) from generate_series(1, 20000) n; "
           "select count(*), sum(n), md5(string_agg(s, ',' order by n)) from t; "
           "select md5(repeat('sockdiag', 131072)), length(repeat('sockdiag', 131072));")


def as_postgres():
    return [tool(SETPRIV), "--reuid=postgres", "--regid=postgres", "--init-groups"]


def cluster(h):
    """A new cluster's directory, owned by postgres, listening on TCP only."""
    if os.geteuid() != 0:
        raise Skipped("the cluster runs as the user postgres: needs root")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise Skipped("no user postgres (the Debian package postgresql makes it)")
    os.chmod(h.tmp, 0o755)
    data = h.path("pgdata")
    os.mkdir(data, 0o700)
    os.chown(data, pw.pw_uid, pw.pw_gid)
    subprocess.run(as_postgres() + [tool(f"{BIN}/initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync",
                                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120,
                   env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\n"
                "logging_collector = off\nautovacuum = off\n")
    return data


class Postgres:
    """`outside`: under `sockdiag run`, setpriv runs sockdiag run as
    postgres (as one runs it for a server of another user); otherwise
    sockdiag run starts setpriv, which drops to postgres and executes the
    server."""

    def __init__(self, h, mode, data, port, outside=True):
        self.port = port
        self.err = mode.err_file(f"postgres-{mode.name}")
        argv = [tool(f"{BIN}/postgres"), "-D", data, "-p", port]
        if outside:
            self.proc = mode.start(argv, prefix=as_postgres(), stderr=self.err)
        else:
            self.proc = mode.start(as_postgres() + argv, stderr=self.err)
        # It listens before it has recovered: a session then would be refused.
        wait_text(lambda: mode.read_err(self.err), self.proc, "database system is ready to accept connections",
                  "postgres")

    def stop(self):
        """Fast shutdown (SIGINT): the sessions end, the postmaster exits 0."""
        return stop(self.proc, signal.SIGINT, timeout=60)


def psql(mode, port, sql):
    run = mode.run([tool(f"{BIN}/psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", port, "-U", "postgres",
                    "-d", "postgres", "-c", sql], timeout=60, extra={"PGCONNECT_TIMEOUT": "20"})
    return run.rc, run.out, run.err.replace(str(port), "PORT")


@case("postgres and psql over loopback TCP")
def postgres_healthy(h):
    data = cluster(h)

    def scenario(mode):
        server = Postgres(h, mode, data, free_port())
        try:
            first = psql(mode, server.port, QUERIES)
            second = psql(mode, server.port, "select count(*) from t; drop table t;")
        finally:
            status = server.stop()
        return first, second, status

    runs = four_runs(h, scenario, [("postgres", ("accept", "accept4")), ("postgres", ("recv", "recvfrom")),
                                   ("postgres", ("send", "sendto")), ("psql", "connect"),
                                   ("psql", ("recv", "recvfrom"))])
    first, second, status = runs["plain"][0]
    expect_eq(first[0], 0, "psql's exit status", first)
    expect(re.search(r"^20000\|200010000\|[0-9a-f]{32}$", first[1], re.M) and "|1048576" in first[1],
           "psql's output of the queries", first)
    expect_eq(second[:2], (0, "20000\nDROP TABLE\n"), "the second session's status and output", second)
    expect_eq(status, 0, "the postmaster's exit status after SIGINT")


@case("psql refused by a closed port, then the refusal injected")
def postgres_refused(h):
    data = cluster(h)
    with closed_port() as closed:
        def scenario(mode):
            return psql(mode, closed, "select 1")

        runs = four_runs(h, scenario, [("psql", "connect")], healthy=False)
    rc, out, err = runs["plain"][0]
    expect_eq((rc, out), (2, ""), "psql's status and output", err)
    expect("Connection refused" in err, "psql did not say the connection was refused", err)
    expect_records(runs, [("psql", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    # The same refusal injected on the connect to the live server.
    injected_refusal(h, "psql", lambda mode, port: Postgres(h, mode, data, port),
                     lambda mode, port: psql(mode, port, "select 1"), runs["plain"][0], "SO_ERROR",
                     "psql and the server (its exit status)")


@case("postgres started by setpriv under sockdiag run --summary")
def postgres_setpriv_under_run(h):
    # sockdiag run (root) starts setpriv, which drops to postgres and
    # executes the server: the library in the server must run it, counting
    # into the table it inherited.
    if under_sanitizer("no sockdiag run"):
        raise Skipped("the case is a sockdiag run, which a sanitizer build leaves out")
    data = cluster(h)

    def scenario(mode):
        server = Postgres(h, mode, data, free_port(), outside=False)
        try:
            got = psql(mode, server.port, "select 1")
        finally:
            status = server.stop()
        return got, status

    plain = scenario(RunMode(h, "plain"))
    expect_eq(plain, ((0, "1\n", ""), 0), "psql's status and output, the postmaster's exit status")
    summary_run(h, scenario, plain, healthy=True)
