"""Records that say what happened: a connect the program gave up is not
blamed on the peer, trace records show what calls returned, probes and
fallbacks (ENOTSOCK on stdin, a numeric address of the other family) stay
below the default level, an EOF after a reset is not a FIN, an empty name
is said as such, and the program's name survives a rewritten argv. Each
case runs its program without the library too and compares."""
from harness import case, expect, expect_eq, only_record, select_records


def same_as_plain(h, argv, settings=None):
    """Runs `argv` without and with the library (JSON log); the program's
    output must be the same. Returns the run under the library."""
    plain = h.run(argv, preload=False).expect_rc(0)
    run = h.run_logged(argv, settings=settings).expect_rc(0)
    # Ports are picked anew by each run.
    same = [[line for line in r.lines() if not line.startswith("port:")] for r in (plain, run)]
    expect_eq(same[1], same[0], "the program's output under the library", run.describe())
    expect_eq(run.err, plain.err, "the program's stderr under the library", run.describe())
    return run


def check_abandoned(h, family, peer_format):
    argv = [h.prog("connect_abandoned"), family, 300]
    run = same_as_plain(h, argv)
    run.expect_out("connect: -1 EINPROGRESS", "poll: 0 OK", "shutdown: 0 OK", "close: 0 OK")
    # ret: the close's result, the call the error surfaced through.
    rec = only_record(run, call="connect", code="ECONNRESET", ret=-1, level="error", via="SO_ERROR pending at close")
    expect(peer_format.split(":")[0] in rec["peer"], "the record does not name the peer", run.describe())
    expect("abandoned by the program" in rec["explanation"], "the record does not say the program gave up",
           run.describe())
    expect("never answered" in rec["explanation"] and "reset (RST)" not in rec["explanation"],
           "the record blames a reset on a peer that never answered", run.describe())


@case("connect abandoned by the program is not a reset by the peer")
def abandoned_v4(h):
    check_abandoned(h, "4", "127.0.0.1:")


@case("connect abandoned by the program is not a reset by the peer ipv6")
def abandoned_v6(h):
    check_abandoned(h, "6", "[::1]:")


@case("trace records show what close and poll returned")
def trace_returns(h):
    run = same_as_plain(h, [h.prog("connect_abandoned"), "4", 300], settings={"LEVEL": "trace"})
    closes = select_records(run.records, call="close")
    expect_eq(len(closes), 3, "close records at trace level", run.describe())
    expect_eq([r["ret"] for r in closes], [0, 0, 0], "close results in the trace", run.describe())
    # poll of one fd that reports POLLOUT|POLLERR: it returned 1.
    run = same_as_plain(h, [h.prog("connect_refused"), "poll", "4", 1], settings={"LEVEL": "trace"})
    run.expect_out("revents: POLLOUT POLLERR")
    polls = select_records(run.records, call="poll", level="trace")
    expect(polls, "no trace record of poll", run.describe())
    expect_eq(polls[-1]["ret"], 1, "poll's result in the trace", run.describe())


@case("pending error found at close shows the connect's own result")
def close_pending_error(h):
    # The refused connect closed after POLLERR without reading SO_ERROR.
    run = same_as_plain(h, [h.prog("connect_refused"), "pollerr-close", "4", 1], settings={"LEVEL": "trace"})
    found = select_records(run.records, via="SO_ERROR pending at close")
    expect_eq(len(found), 1, "records of the pending error", run.describe())
    expect_eq((found[0]["call"], found[0]["ret"]), ("connect", -1),
              "the call whose error it is, and what that connect returned (-1, EINPROGRESS)", run.describe())
    closes = select_records(run.records, call="close")
    expect(closes and all(r["ret"] == 0 for r in closes), "a close shown with a result it did not return",
           run.describe())


@case("probes of stdin are expected flow, a reused number is not")
def stdin_probe(h):
    # The harness gives every program /dev/null as its stdin.
    argv = [h.prog("stdin_probe")]
    run = same_as_plain(h, argv)
    run.expect_out("getsockopt stdin SO_TYPE: -1 ENOTSOCK", "recv stdin: -1 ENOTSOCK", "read stdin: 0 OK",
                   "reused: yes", "recv closed socket: -1 ENOTSOCK")
    fd = int(run.value("socket fd:"))
    # Default level: only the use of a closed socket's number is an error.
    rec = only_record(run, call="recv", code="ENOTSOCK", fd=fd, level="error")
    # The title written over argv[0] is not the program's name.
    expect_eq(rec["prog"], "stdin_probe", "the program's name in the record", run.describe())
    run = same_as_plain(h, argv, settings={"LEVEL": "debug"})
    probes = select_records(run.records, code="ENOTSOCK", fd=0)
    expect_eq(sorted(r["call"] for r in probes), ["getsockopt", "recv"], "probe records at debug level",
              run.describe())
    expect(all(r["level"] == "debug" for r in probes), "a probe of stdin is not at debug level", run.describe())


@case("numeric address of the other family is a probe")
def other_family(h):
    for name, family in (("::1", "inet"), ("127.0.0.1", "inet6")):
        run = same_as_plain(h, [h.prog("resolve"), name, family])
        run.expect_out("getaddrinfo: EAI_ADDRFAMILY")
        expect_eq(run.records, [], f"records at the default level for {name} asked as {family}", run.describe())
        run = same_as_plain(h, [h.prog("resolve"), name, family], settings={"LEVEL": "debug"})
        rec = only_record(run, call="getaddrinfo", code="EAI_ADDRFAMILY", level="debug", host=name)
        expect("an IPv6 address asked for as AF_INET" in rec["explanation"],
               "the explanation does not name the families the right way round", run.describe())


@case("empty name is said as such")
def empty_name(h):
    run = same_as_plain(h, [h.prog("resolve"), "", "any"])
    run.expect_out("getaddrinfo: EAI_NONAME")
    rec = only_record(run, call="getaddrinfo", code="EAI_NONAME", level="error")
    expect("the name the name" not in rec["explanation"].lower(), "the explanation doubles its words",
           run.describe())
    expect('The name "" (an empty name) is not known' in rec["explanation"], "the empty name is not named",
           run.describe())


def debug_eof(h, mode, printed, after, said, not_said):
    """peer_close MODE at level debug: what it printed, and its one EOF
    record, at debug, whose explanation says `said` and not `not_said`."""
    run = same_as_plain(h, [h.prog("peer_close"), mode], settings={"LEVEL": "debug"})
    run.expect_out(*printed)
    only = select_records(run.records, code="EOF")
    expect_eq(len(only), 1, "EOF records", run.describe())
    expect_eq(only[0]["level"], "debug", f"level of the EOF {after}", run.describe())
    text = only[0]["explanation"]
    expect(said in text and not_said not in text, f"the EOF {after} is explained as a FIN", run.describe())


@case("eof after the program's own shutdown for reading blames no peer")
def eof_after_own_shutdown(h):
    debug_eof(h, "shut-read", ("shutdown: 0 OK", "recv: 0 OK"), "after the program's own SHUT_RD",
              "this program had shut fd", "closed its side")
    # At the default level the program's own doing is no news.
    run = same_as_plain(h, [h.prog("peer_close"), "shut-read"])
    expect_eq(select_records(run.records, code="EOF"), [], "EOF records at the default level", run.describe())


@case("epipe after the program's own shutdown for writing blames no peer")
def epipe_after_own_shutdown(h):
    run = same_as_plain(h, [h.prog("peer_close"), "shut-write"])
    run.expect_out("shutdown: 0 OK", "send: -1 EPIPE")
    rec = only_record(run, call="send", code="EPIPE", level="error")
    text = rec["explanation"]
    expect("had shut fd" in text and "down for writing" in text and "had closed it" not in text,
           "the EPIPE after the program's own SHUT_WR is blamed on the peer", run.describe())


@case("eof after a reset is not an orderly close")
def eof_after_reset(h):
    debug_eof(h, "reset-read", ("recv: -1 ECONNRESET", "recv: 0 OK"), "that follows a reset",
              "not an orderly close", "(an orderly shutdown")
    run = same_as_plain(h, [h.prog("peer_close"), "reset-read"])
    only_record(run, call="recv", code="ECONNRESET", level="error")
