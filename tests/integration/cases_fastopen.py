"""TCP Fast Open: sendto(..., MSG_FASTOPEN, address) is a connect and a send
in one call. A refused one is recorded with the peer the call named and a
connect's explanation, and connect rules match it."""
from harness import case, expect, expect_eq, select_records

FAMILIES = {"4": ("tcp4", "127.0.0.1:{}", "127.0.0.1"), "6": ("tcp6", "[::1]:{}", "[::1]")}


def check_refused(h, family):
    argv = [h.prog("fastopen_send"), "refused", family]
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out("sendto: -1 ECONNREFUSED")
    run = h.run_logged(argv).expect_rc(0)
    run.expect_out("sendto: -1 ECONNREFUSED")
    kind, peer, _ = FAMILIES[family]
    recs = select_records(run.records, call="sendto", code="ECONNREFUSED")
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


def check_connect_rule(h, family):
    argv = [h.prog("fastopen_send"), "listening", family]
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out("sendto: 1")
    # Without a rule the library changes nothing.
    h.run_logged(argv).expect_rc(0).expect_out("sendto: 1")
    kind, peer, address = FAMILIES[family]
    rule = f"connect:error=ECONNREFUSED:peer={address}"
    run = h.run_logged(argv, settings={"INJECT": rule}).expect_rc(0)
    run.expect_out("sendto: -1 ECONNREFUSED")
    recs = select_records(run.records, call="sendto", code="ECONNREFUSED", injected=True)
    expect_eq(len(recs), 1, "injected records of the Fast Open send", run.describe())
    expect_eq(recs[0]["peer"], peer.format(run.value("port:")), "peer of the injected record", run.describe())
    expect_eq(recs[0]["kind"], kind, "kind of the injected record", run.describe())


@case("fastopen sendto matched by a connect rule ipv4")
def fastopen_rule_v4(h):
    check_connect_rule(h, "4")


@case("fastopen sendto matched by a connect rule ipv6")
def fastopen_rule_v6(h):
    check_connect_rule(h, "6")
