"""Sockets a process inherited (inetd style: fd 0 of an exec'd child): the
library learns them on first use, records their peer and local address,
counts their bytes from there, says that their history starts with the
process, and applies peer rules to them."""
from harness import case, expect, expect_eq, select_records

FAMILIES = {"4": "tcp4", "6": "tcp6"}


def child_lines(run):
    return [line for line in run.lines() if line.startswith(("read:", "child:"))]


def check_inherited_reset(h, family):
    plain = h.run([h.prog("inherited_conn"), "rst", family], preload=False).expect_rc(0)
    run = h.run_logged([h.prog("inherited_conn"), "rst", family]).expect_rc(0)
    expect_eq(child_lines(run), child_lines(plain), "what the child read, with and without the library",
              run.describe())
    run.expect_out("read: 29", "read: -1 ECONNRESET")
    recs = select_records(run.records, call="read", fd=0, code="ECONNRESET")
    expect_eq(len(recs), 1, "records of the inherited socket's reset", run.describe())
    rec = recs[0]
    expect_eq(rec["kind"], FAMILIES[family], "kind of the inherited socket", run.describe())
    expect_eq(rec["peer"], run.value("peer:"), "peer of the inherited socket", run.describe())
    expect_eq(rec["local"], run.value("local:"), "local address of the inherited socket", run.describe())
    expect_eq(rec["bytes_received"], 29, "bytes the child received", run.describe())
    expect_eq(rec["bytes_sent"], 1, "bytes the child sent", run.describe())
    expect_eq(rec.get("inherited"), True, "the record says the socket was inherited", run.describe())
    expect("since this process started" in rec["explanation"],
           "the explanation does not say that the history starts with the process", run.describe())


@case("inherited socket reset ipv4")
def inherited_reset_v4(h):
    check_inherited_reset(h, "4")


@case("inherited socket reset ipv6")
def inherited_reset_v6(h):
    check_inherited_reset(h, "6")


@case("inherited socket peer rule")
def inherited_peer_rule(h):
    plain = h.run([h.prog("inherited_conn"), "eof", "4"], preload=False).expect_rc(0)
    plain.expect_out("read: 29", "read: 0")
    rule = "input:error=ECONNRESET:peer=127.0.0.1:after_bytes=29"
    run = h.run_logged([h.prog("inherited_conn"), "eof", "4"], settings={"INJECT": rule}).expect_rc(0)
    # The rule fires on the child's second read only: the first had not
    # carried 29 bytes yet, and the parent's sockets read 1 byte.
    run.expect_out("read: 29", "read: -1 ECONNRESET", "child: 0")
    recs = select_records(run.records, call="read", fd=0, injected=True)
    expect_eq(len(recs), 1, "injected records on the inherited socket", run.describe())
    expect_eq(recs[0]["peer"], run.value("peer:"), "peer of the injected record", run.describe())
    expect_eq(recs[0]["local"], run.value("local:"), "local address of the injected record", run.describe())
    expect_eq(recs[0]["bytes_received"], 29, "bytes received before the injected reset", run.describe())
