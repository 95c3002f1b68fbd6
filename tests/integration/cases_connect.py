"""Refused connects: blocking, non-blocking (result read through SO_ERROR
after poll or epoll, or never read), and the exit summary that counts them."""
import re

from harness import case, expect, expect_eq, only_record, read_records, select_records

FAMILIES = {"4": ("tcp4", "127.0.0.1:{}"), "6": ("tcp6", "[::1]:{}")}


def refused(h, mode, family, count=1, settings=None):
    run = h.run_logged([h.prog("connect_refused"), mode, family, count], settings=settings).expect_rc(0)
    kind, peer = FAMILIES[family]
    return run, kind, peer.format(run.value("port:"))


def check_blocking(h, family):
    run, kind, peer = refused(h, "blocking", family)
    run.expect_out("connect: -1 ECONNREFUSED")
    rec = only_record(run, call="connect", code="ECONNREFUSED", errno=111, ret=-1, level="error", kind=kind,
                      peer=peer, prog="connect_refused", via="", injected=False)
    expect(peer in rec["explanation"], f"the explanation does not name the peer {peer}", run.describe())
    expect(rec["message"] == "Connection refused", "message is not strerror's text", run.describe())
    expect(rec["advice"] != "", "the record gives no advice", run.describe())
    expect_eq(rec["tid"], rec["pid"], "tid of a single-threaded program's record")


@case("econnrefused blocking ipv4")
def blocking_ipv4(h):
    check_blocking(h, "4")


@case("econnrefused blocking text record on stderr")
def blocking_text(h):
    # The default settings: one text line per record, on the program's stderr.
    run = h.run([h.prog("connect_refused"), "blocking", "4", 1]).expect_rc(0)
    run.expect_out("connect: -1 ECONNREFUSED")
    port = run.value("port:")
    lines = run.err.splitlines()
    expect_eq(len(lines), 1, "lines on stderr", run.describe())
    pattern = (r"sockdiag \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z connect_refused\[(\d+)/\1\] error connect "
               r"fd=\d+ tcp4 \S+ -> 127\.0\.0\.1:" + port +
               r' = -1 ECONNREFUSED\(111\) "Connection refused": .*127\.0\.0\.1:' + port + r".* Try: .+")
    expect(re.fullmatch(pattern, lines[0]), "the text record does not have the documented form", lines[0])


@case("econnrefused blocking ipv6")
def blocking_ipv6(h):
    check_blocking(h, "6")


def check_nonblocking(h, mode, family, wait_line):
    run, kind, peer = refused(h, mode, family)
    run.expect_out("connect: -1 EINPROGRESS", wait_line, "so_error: ECONNREFUSED")
    rec = only_record(run, call="connect", code="ECONNREFUSED", errno=111, level="error", kind=kind, peer=peer,
                      via="SO_ERROR")
    expect(peer in rec["explanation"], f"the explanation does not name the peer {peer}", run.describe())


@case("econnrefused nonblocking poll SO_ERROR")
def nonblocking_poll(h):
    check_nonblocking(h, "poll", "4", "revents: POLLOUT POLLERR")


@case("econnrefused nonblocking poll SO_ERROR ipv6")
def nonblocking_poll_v6(h):
    check_nonblocking(h, "poll", "6", "revents: POLLOUT POLLERR")


@case("econnrefused nonblocking epoll SO_ERROR")
def nonblocking_epoll(h):
    check_nonblocking(h, "epoll", "4", "events: EPOLLOUT EPOLLERR")


@case("econnrefused nonblocking closed after POLLERR")
def nonblocking_close(h):
    run, kind, peer = refused(h, "pollerr-close", "4")
    run.expect_out("connect: -1 EINPROGRESS", "revents: POLLOUT POLLERR")
    only_record(run, call="connect", code="ECONNREFUSED", errno=111, level="error", kind=kind, peer=peer,
                via="SO_ERROR pending at close")


@case("econnrefused nonblocking at debug level")
def nonblocking_debug(h):
    # EINPROGRESS is expected flow: a debug record, never at the default level.
    run, _, peer = refused(h, "poll", "4", settings={"LEVEL": "debug"})
    progress = select_records(run.records, call="connect", code="EINPROGRESS")
    expect_eq(len(progress), 1, "EINPROGRESS records at debug level", run.describe())
    expect_eq(progress[0]["level"], "debug", "level of the EINPROGRESS record")
    expect_eq(len(select_records(run.records, code="ECONNREFUSED", peer=peer, via="SO_ERROR")), 1,
              "ECONNREFUSED records at debug level", run.describe())


@case("summary counts refused connects")
def summary_text(h):
    log = h.new_log()
    run = h.run([h.prog("connect_refused"), "blocking", "4", 5], settings={"LOG": log, "SUMMARY": "1"}).expect_rc(0)
    rows = [line.split() for line in open(log) if line.startswith("sockdiag summary ")]
    counts = [r for r in rows if len(r) >= 7 and r[3] == "connect" and r[4] == "ECONNREFUSED"]
    expect_eq(len(counts), 1, "summary rows for connect ECONNREFUSED", open(log).read())
    expect_eq(counts[0][5:7], ["failure", "5"], "category and count of refused connects in the summary",
              open(log).read())
    expect(counts[0][2].startswith("connect_refused["), "the summary row does not name the program",
           open(log).read())
    records = [line for line in open(log) if not line.startswith("sockdiag summary ")]
    expect_eq(len([line for line in records if "ECONNREFUSED" in line]), 5, "records before the summary",
              run.describe())


@case("summary in json with the peer")
def summary_json(h):
    run, _, peer = refused(h, "blocking", "4", count=5, settings={"SUMMARY": "1"})
    counts = select_records(run.records, summary="count", call="connect", code="ECONNREFUSED")
    expect_eq(len(counts), 1, "summary count objects for connect ECONNREFUSED", run.describe())
    expect_eq(counts[0]["count"], 5, "count in the JSON summary")
    peers = select_records(run.records, summary="peer", peer=peer)
    expect_eq(len(peers), 1, f"summary peer objects for {peer}", run.describe())
    expect_eq(peers[0]["failures"], 5, "failures of the peer in the summary")
    records = [r for r in run.records if "summary" not in r]
    expect_eq(len(select_records(records, call="connect", code="ECONNREFUSED")), 5, "records", run.describe())


@case("summary appended to a file of its own")
def summary_file(h):
    target = h.path("summary.jsonl")
    for _ in range(2):
        h.run_logged([h.prog("connect_refused"), "blocking", "4", 3], settings={"SUMMARY": target}).expect_rc(0)
    rows = select_records(read_records(target), summary="count", call="connect", code="ECONNREFUSED")
    expect_eq([r["count"] for r in rows], [3, 3], "counts appended by two runs", open(target).read())
    expect(rows[0]["pid"] != rows[1]["pid"], "both summary rows have the same pid")
