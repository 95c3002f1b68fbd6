"""ECONNABORTED from accept (accept_server.c; the test stub makes Linux's
loopback produce it): with SOCKDIAG_RETRY=econnaborted the server keeps
serving; otherwise it sees the error, as without the library."""
from policy_harness import (case, expect, expect_exit, expect_line, expect_no_retries, expect_retries,
                            same_as_without_library)


def econnaborted_keeps_serving(call):
    def check(h):
        run = h.run("accept_server", call, env={"SOCKDIAG_RETRY": "econnaborted"}, preload="lib+stub")
        expect_exit(run, 0)
        expect_line(run, "served: 2")
        expect_line(run, "client 2: pong")
        expect_line(run, "client 3: pong")
        n = expect_retries(run, call, "ECONNABORTED")
        expect(n == 1, f"expected one retry, got {n}", run)
        expect(not [r for r in run.with_code("ECONNABORTED") if not r.get("retrying")],
               "expected no ECONNABORTED failure record", run)
    return check


def econnaborted_injected(h):
    # Fault injection makes accept fail once without taking a connection.
    run = h.run("accept_server", "accept", env={"SOCKDIAG_RETRY": "econnaborted",
                                                  "SOCKDIAG_INJECT": "accept:error=ECONNABORTED:times=1"})
    expect_exit(run, 0)
    expect_line(run, "served: 2")
    expect_line(run, "client 1: pong")
    expect_line(run, "client 2: pong")
    n = expect_retries(run, "accept", "ECONNABORTED")
    expect(n == 1, f"expected one retry, got {n}", run)


def econnaborted_seen(env):
    def check(h):
        run = h.run("accept_server", "accept", env=env, preload="lib+stub")
        expect_exit(run, 1)
        expect_line(run, "accept: -1 ECONNABORTED")
        expect_no_retries(run)
        recs = run.with_code("ECONNABORTED", "accept")
        expect(len(recs) == 1 and recs[0].get("retries") == 0, "expected one accept ECONNABORTED record", run)
        same_as_without_library(h, run, "accept_server", "accept", keys=["accept", "served"],
                                preload_without="stub")
    return check


case("econnaborted accept server keeps serving")(econnaborted_keeps_serving("accept"))
case("econnaborted accept4 server keeps serving")(econnaborted_keeps_serving("accept4"))
case("econnaborted injected accept server keeps serving")(econnaborted_injected)
case("econnaborted seen without econnaborted")(econnaborted_seen({}))
case("econnaborted not retried by eintr and eagain")(econnaborted_seen({"SOCKDIAG_RETRY": "eintr,eagain"}))
