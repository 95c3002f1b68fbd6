"""TCP Fast Open: sendto(..., MSG_FASTOPEN, address) (or sendmsg naming its
address) is a connect and a send in one call. A refused one is recorded with the peer the call named and a
connect's explanation, and connect rules match it."""
import re
import shutil
import socket

from harness import case, expect, expect_eq, select_records

FAMILIES = {"4": ("tcp4", "127.0.0.1:{}", "127.0.0.1"), "6": ("tcp6", "[::1]:{}", "[::1]")}


def check_refused(h, family, call="sendto"):
    argv = [h.prog("fastopen_send"), "refused", family, call]
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out(f"{call}: -1 ECONNREFUSED")
    run = h.run_logged(argv).expect_rc(0)
    run.expect_out(f"{call}: -1 ECONNREFUSED")
    kind, peer, _ = FAMILIES[family]
    recs = select_records(run.records, call=call, code="ECONNREFUSED")
    expect_eq(len(recs), 1, "records of the refused Fast Open send", run.describe())
    expect_eq(recs[0]["kind"], kind, "kind", run.describe())
    expect_eq(recs[0]["peer"], peer.format(run.value("port:")), "peer named by the sendto", run.describe())
    expect("Nothing listens on" in recs[0]["explanation"], "the explanation is not a refused connect's",
           run.describe())


@case("fastopen sendto refused ipv4")
def fastopen_refused_v4(h):
    check_refused(h, "4")


@case("fastopen sendto refused ipv6")
def fastopen_refused_v6(h):
    check_refused(h, "6")


def check_connect_rule(h, family, call="sendto"):
    argv = [h.prog("fastopen_send"), "listening", family, call]
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out(f"{call}: 1")
    # Without a rule the library changes nothing.
    h.run_logged(argv).expect_rc(0).expect_out(f"{call}: 1")
    kind, peer, address = FAMILIES[family]
    rule = f"connect:error=ECONNREFUSED:peer={address}"
    run = h.run_logged(argv, settings={"INJECT": rule}).expect_rc(0)
    run.expect_out(f"{call}: -1 ECONNREFUSED")
    recs = select_records(run.records, call=call, code="ECONNREFUSED", injected=True)
    expect_eq(len(recs), 1, "injected records of the Fast Open send", run.describe())
    expect_eq(recs[0]["peer"], peer.format(run.value("port:")), "peer of the injected record", run.describe())
    expect_eq(recs[0]["kind"], kind, "kind of the injected record", run.describe())


@case("fastopen sendto matched by a connect rule ipv4")
def fastopen_rule_v4(h):
    check_connect_rule(h, "4")


@case("fastopen sendto matched by a connect rule ipv6")
def fastopen_rule_v6(h):
    check_connect_rule(h, "6")


@case("fastopen sendmsg refused ipv4")
def fastopen_sendmsg_refused(h):
    check_refused(h, "4", "sendmsg")


@case("fastopen sendmsg matched by a connect rule ipv4")
def fastopen_sendmsg_rule(h):
    check_connect_rule(h, "4", "sendmsg")


def curl_argv(port):
    return ["curl", "-sS", "--tcp-fastopen", f"http://127.0.0.1:{port}/"]


def curl_tfo(h, port):
    return h.run(curl_argv(port), preload=False, timeout=30), h.run_logged(curl_argv(port), timeout=30)


def same(text, port):
    # curl says how long it tried ("after 0 ms") and the port: all else is equal.
    return re.sub(r"after \d+ ms", "after N ms", text).replace(str(port), "PORT")


@case("curl --tcp-fastopen to a closed port recorded as a refused connect")
def curl_fastopen_refused(h):
    expect(shutil.which("curl"), "curl is not installed")
    # Bound but not listening: connects to it are refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        plain, run = curl_tfo(h, port)
    expect_eq(plain.rc, 7, "curl's exit status for a refused connection", plain.describe())
    expect_eq((run.rc, run.out, same(run.err, port)), (plain.rc, plain.out, same(plain.err, port)),
              "curl's exit status and output under the library")
    recs = select_records(run.records, code="ECONNREFUSED")
    expect_eq(len(recs), 1, "records", run.describe())
    expect_eq((recs[0]["call"], recs[0]["peer"]), ("connect", f"127.0.0.1:{port}"), "the record", run.describe())


@case("curl --tcp-fastopen refused by a connect rule on its port")
def curl_fastopen_rule(h):
    expect(shutil.which("curl"), "curl is not installed")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        plain, _ = curl_tfo(h, closed_port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        # Nothing answers there: without the rule curl would wait for a reply.
        run = h.run_logged(curl_argv(port), settings={"INJECT": f"connect:error=ECONNREFUSED:port={port}"},
                           timeout=30)
    # The injected refusal looks to curl like a real one on a closed port.
    expect_eq((run.rc, run.out, same(run.err, port)), (plain.rc, plain.out, same(plain.err, closed_port)),
              "curl under the rule, against curl on a closed port")
    recs = select_records(run.records, code="ECONNREFUSED", injected=True)
    expect_eq(len(recs), 1, "injected records", run.describe())
    expect_eq(recs[0]["peer"], f"127.0.0.1:{port}", "peer of the injected record", run.describe())
