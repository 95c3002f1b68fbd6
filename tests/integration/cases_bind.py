"""A bind that fails names the local address the program asked for: the
record shows it as the local address (not as a peer), the explanation names
it, and the summary counts no peer for it. Abstract unix names are explained
as names, without a socket file."""
import os

from harness import case, expect, expect_eq, only_record, select_records


def check_bind_record(run, local, must_mention):
    rec = only_record(run, call="bind", code="EADDRINUSE", errno=98, ret=-1, level="error", local=local, peer="")
    expect(local in rec["explanation"], f"the explanation does not name {local}", rec["explanation"])
    for words in must_mention:
        expect(words in rec["explanation"], f"the explanation does not say {words!r}", rec["explanation"])
    return rec


@case("eaddrinuse bind names the local address it asked for")
def bind_tcp(h):
    run = h.run_logged([h.prog("bind_taken"), "4"]).expect_rc(0)
    run.expect_out("bind: -1 EADDRINUSE")
    check_bind_record(run, f"127.0.0.1:{run.value('port:')}", ["TIME_WAIT"])
    # The address asked for is no peer: the summary has no peer line for it.
    run = h.run_logged([h.prog("bind_taken"), "4"], settings={"SUMMARY": "1"}).expect_rc(0)
    expect_eq(len(select_records(run.records, summary="count", call="bind", code="EADDRINUSE")), 1,
              "summary counts of the failed bind", run.describe())
    expect_eq(select_records(run.records, summary="peer"), [], "peers counted in the summary for a failed bind",
              run.describe())


@case("eaddrinuse bind with SO_REUSEADDR blames a live socket not TIME_WAIT")
def bind_tcp_reuseaddr(h):
    run = h.run_logged([h.prog("bind_taken"), "4", "reuseaddr"]).expect_rc(0)
    run.expect_out("bind: -1 EADDRINUSE")
    rec = check_bind_record(run, f"127.0.0.1:{run.value('port:')}", ["live socket", "this socket has SO_REUSEADDR"])
    expect("SO_REUSEADDR before bind" not in rec["advice"], "the advice asks for SO_REUSEADDR, already set",
           rec["advice"])


@case("eaddrinuse bind of a unix socket file names the file")
def bind_unix_file(h):
    path = h.path("server.sock")
    run = h.run_logged([h.prog("bind_taken"), "unix", path]).expect_rc(0)
    run.expect_out("bind: -1 EADDRINUSE")
    rec = check_bind_record(run, path, ["socket file"])
    expect("stale file" in rec["advice"], "the advice does not speak of a stale file", rec["advice"])


@case("abstract unix names explained as names without a socket file")
def abstract_names(h):
    name = f"sockdiag-test-{os.getpid()}-{os.urandom(4).hex()}"
    run = h.run_logged([h.prog("bind_taken"), "abstract", name]).expect_rc(0)
    run.expect_out("bind: -1 EADDRINUSE")
    rec = check_bind_record(run, f"@{name}", ["abstract unix name"])
    for text in (rec["explanation"], rec["advice"]):
        expect("socket file" not in text and "stale" not in text, "an abstract name is explained as a file", text)

    # Nobody binds this one: refused, and the explanation points at namespaces.
    missing = f"@{name}-none"
    run = h.run_logged([h.prog("connect_unix"), missing]).expect_rc(0)
    run.expect_out("connect: -1 ECONNREFUSED")
    rec = only_record(run, call="connect", code="ECONNREFUSED", peer=missing, level="error")
    expect("network namespace" in rec["explanation"], "the explanation does not mention network namespaces",
           rec["explanation"])
    expect("stale" not in rec["explanation"], "an abstract name is explained as a stale file", rec["explanation"])
