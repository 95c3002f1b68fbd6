"""Injected connect failures: refusal, other errors and timeouts, on
blocking and non-blocking (poll, epoll) connects. The injected fault must
look to the program exactly like the real one."""
import re

from inject_harness import case, expect, expect_eq, ms


def without_times(text):
    return re.sub(r" ms=\d+", "", text)


def real_and_injected(h, mode):
    """nb_connect against a port nobody listens on (the real refusal), and
    against a listening peer with the refusal injected."""
    refused = h.refused_port()
    real = h.run_plain([h.prog("nb_connect"), mode, "127.0.0.1", refused, 5000]).expect_rc(0)
    peer = h.peer()
    injected = h.run([h.prog("nb_connect"), mode, "127.0.0.1", peer.port, 5000],
                     inject=f"connect:error=ECONNREFUSED:port={peer.port}").expect_rc(0)
    expect_eq(without_times(injected.out), without_times(real.out),
              f"what a {mode} connect sees of an injected refusal, compared with a real one", injected.describe())
    expect(peer.untouched(), "the peer was reached although the connect was refused", injected.describe())
    recs = injected.injected(call="connect", code="ECONNREFUSED")
    expect_eq(len(recs), 1, "injected connect records", injected.describe())
    expect_eq(recs[0]["rule"], f"connect:error=ECONNREFUSED:port={peer.port}", "the record's rule", injected.describe())
    expect_eq(recs[0]["peer"], f"127.0.0.1:{peer.port}", "the record's peer (the address the program named)",
              injected.describe())
    return injected


@case("connect refused blocking")
def _(h):
    run = real_and_injected(h, "blocking")
    expect_eq(run.step("connect")["err"], "ECONNREFUSED", "blocking connect", run.describe())


@case("connect refused non-blocking poll")
def _(h):
    run = real_and_injected(h, "poll")
    expect_eq(run.step("connect")["err"], "EINPROGRESS", "non-blocking connect", run.describe())
    expect_eq(run.step("poll")["events"], "OUT|ERR|HUP", "poll events", run.describe())
    expect_eq(run.step("so_error1")["err"], "ECONNREFUSED", "SO_ERROR", run.describe())
    expect_eq(run.injected(call="connect")[0]["via"], "SO_ERROR", "the record's via", run.describe())


@case("connect refused non-blocking epoll")
def _(h):
    run = real_and_injected(h, "epoll")
    expect_eq(run.step("epoll_wait")["events"], "OUT|ERR|HUP", "epoll events", run.describe())
    expect_eq(run.step("so_error1")["err"], "ECONNREFUSED", "SO_ERROR", run.describe())


@case("connect refused non-blocking epoll data.ptr")
def _(h):
    run = real_and_injected(h, "epoll-ptr")
    expect_eq(run.step("epoll_wait")["events"], "OUT|ERR|HUP", "epoll events", run.describe())


@case("connect refused ipv6 non-blocking poll")
def _(h):
    peer = h.peer(host="::1")
    run = h.run([h.prog("nb_connect"), "poll", "::1", peer.port, 5000],
                inject="connect:error=ECONNREFUSED:kind=tcp6").expect_rc(0)
    expect_eq(run.step("connect")["err"], "EINPROGRESS", "non-blocking connect", run.describe())
    expect_eq(run.step("so_error1")["err"], "ECONNREFUSED", "SO_ERROR", run.describe())
    expect(peer.untouched(), "the peer was reached", run.describe())


@case("connect error other than refusal blocking and non-blocking")
def _(h):
    peer = h.peer()
    rule = f"connect:error=EHOSTUNREACH:port={peer.port}"
    blocking = h.run([h.prog("nb_connect"), "blocking", "127.0.0.1", peer.port, 5000], inject=rule).expect_rc(0)
    expect_eq(blocking.step("connect")["err"], "EHOSTUNREACH", "blocking connect: an immediate error",
              blocking.describe())
    expect_eq(blocking.step("send")["err"], "EPIPE", "send on the socket that never connected", blocking.describe())
    for mode, wait_call in (("poll", "poll"), ("epoll", "epoll_wait")):
        run = h.run([h.prog("nb_connect"), mode, "127.0.0.1", peer.port, 5000], inject=rule).expect_rc(0)
        expect_eq(run.step("connect")["err"], "EINPROGRESS", f"{mode}: connect", run.describe())
        expect_eq(run.step(wait_call)["events"], "OUT|ERR|HUP", f"{mode}: readiness", run.describe())
        expect_eq(run.step("so_error1")["err"], "EHOSTUNREACH", f"{mode}: SO_ERROR", run.describe())
        expect_eq(run.step("so_error2")["err"], "OK", f"{mode}: SO_ERROR read a second time (cleared)",
                  run.describe())
        expect_eq(run.step("send")["err"], "EPIPE", f"{mode}: send after the failed connect", run.describe())
        recs = run.injected(call="connect", code="EHOSTUNREACH")
        expect_eq(len(recs), 1, f"{mode}: injected connect records", run.describe())
        expect_eq(recs[0]["rule"], rule, f"{mode}: the record's rule", run.describe())
    expect(peer.untouched(), "the peer was reached", run.describe())


@case("connect timeout blocking")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("nb_connect"), "blocking", "127.0.0.1", peer.port, 5000],
                inject="connect:timeout=800ms").expect_rc(0)
    step = run.step("connect")
    expect_eq(step["err"], "ETIMEDOUT", "blocking connect", run.describe())
    expect(ms(step) >= 800, f"the connect failed after {step['ms']} ms, before the 800 ms of the rule",
           run.describe())
    recs = run.injected(call="connect", code="ETIMEDOUT")
    expect_eq(len(recs), 1, "injected records", run.describe())
    expect_eq(recs[0]["rule"], "connect:timeout=800ms", "the record's rule", run.describe())
    expect(peer.untouched(), "the peer was reached", run.describe())


@case("connect timeout non-blocking reported through poll")
def _(h):
    # A real non-blocking connect to a silent host returns EINPROGRESS at
    # once; the program's poll waits and then sees the failure. The program,
    # not the connect call, decides how long it waits.
    peer = h.peer()
    run = h.run([h.prog("nb_connect"), "poll", "127.0.0.1", peer.port, 10000],
                inject="connect:timeout=2s").expect_rc(0)
    connect, poll = run.step("connect"), run.step("poll")
    expect_eq(connect["err"], "EINPROGRESS", "non-blocking connect", run.describe())
    expect_eq(poll["events"], "OUT|ERR|HUP", "poll events", run.describe())
    expect_eq(run.step("so_error1")["err"], "ETIMEDOUT", "SO_ERROR", run.describe())
    expect(ms(connect) + ms(poll) >= 2000, "the failure came before the 2 s of the rule", run.describe())
    expect(ms(connect) < 2000, f"the non-blocking connect call itself blocked for {connect['ms']} ms "
                               "(the rule's whole timeout) instead of returning EINPROGRESS at once", run.describe())


@case("connect timeout non-blocking leaves the program's poll timeout in charge")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("nb_connect"), "poll", "127.0.0.1", peer.port, 300],
                inject="connect:timeout=3s").expect_rc(0)
    connect, poll = run.step("connect"), run.step("poll")
    expect_eq(connect["err"], "EINPROGRESS", "non-blocking connect", run.describe())
    expect_eq((poll["ret"], poll["events"]), ("0", "none"),
              "a 300 ms poll during a 3 s connect timeout: nothing happened yet", run.describe())
    expect_eq(run.step("so_error1")["err"], "OK", "SO_ERROR while the connect is still pending", run.describe())


@case("connect delay")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops"), "connect", "127.0.0.1", peer.port, "close"],
                inject="connect:delay=400ms", settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("connect")
    expect_eq(step["err"], "OK", "the delayed connect", run.describe())
    expect(ms(step) >= 400, f"the connect took {step['ms']} ms, less than the 400 ms delay", run.describe())
    notices = run.injected(code="INJECTED_DELAY")
    expect_eq(len(notices), 1, "delay notices", run.describe())
    expect_eq((notices[0]["call"], notices[0]["level"], notices[0]["rule"]),
              ("connect", "info", "connect:delay=400ms"), "the notice's call, level and rule", run.describe())
    expect_eq(len(peer.wait(1)), 1, "connections the peer saw", run.describe())
