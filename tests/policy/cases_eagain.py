"""EAGAIN on a non-blocking socket (eagain_giveup.c): with
SOCKDIAG_RETRY=eagain one wait for readiness, bounded by
SOCKDIAG_RETRY_TIMEOUT_MS, then the call again; a call the program itself
made non-blocking for once (MSG_DONTWAIT, SO_RCVTIMEO), a pipe, and a
program that asked for nothing are left alone."""
import re

from policy_harness import (case, expect, expect_exit, expect_line, expect_no_retries, expect_retries,
                            same_as_without_library)


def eagain_waited_out(mode, call):
    def check(h):
        run = h.run("eagain_giveup", mode, env={"SOCKDIAG_RETRY": "eagain"})
        expect_exit(run, 0)
        expect(re.fullmatch(r"\d+ OK", run.value(call)) is not None, f"expected {call} to succeed", run)
        n = expect_retries(run, call, "EAGAIN")
        # Never a busy loop: one wait for readiness, then the call again.
        expect(n == 1, f"expected one retry (a poll wait, not a loop), got {n}", run)
        waited = run.retry_records()[0]["waited_ms"]
        expect(waited >= 50, f"expected the retry to wait for the peer (~200 ms), waited_ms {waited}", run)
        if mode in ("recv-late", "read-late"):
            expect_line(run, "data: pong")
    return check


def eagain_bound(h):
    run = h.run("eagain_giveup", "recv-never",
                  env={"SOCKDIAG_RETRY": "eagain", "SOCKDIAG_RETRY_TIMEOUT_MS": "300", "SOCKDIAG_LEVEL": "debug"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    elapsed = run.number("elapsed_ms")
    expect(290 <= elapsed < 5000, f"expected recv to give up after SOCKDIAG_RETRY_TIMEOUT_MS=300 "
           f"(290 <= elapsed < 5000 ms), got {elapsed:.0f} ms", run)
    expect_no_retries(run)
    expect(run.with_code("EAGAIN", "recv"), "expected the final recv EAGAIN record (level debug)", run)


def eagain_not_retried(mode, env):
    call = "recv"

    def check(h):
        run = h.run("eagain_giveup", mode, env=env)
        expect_exit(run, 1)
        expect_line(run, f"{call}: -1 EAGAIN")
        expect_no_retries(run)
    return check


def eagain_nothing_configured(h):
    run = h.run("eagain_giveup", "recv-late")
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    expect_no_retries(run)
    same_as_without_library(h, run, "eagain_giveup", "recv-late", keys=["recv"])


def eagain_limited_to_calls(h):
    run = h.run("eagain_giveup", "recv-late", env={"SOCKDIAG_RETRY": "eagain@send"})
    expect_exit(run, 1)
    expect_line(run, "recv: -1 EAGAIN")
    expect_no_retries(run)
    for spec in ("eagain@recv", "eagain@recvfrom+send", "eintr,eagain@recv"):
        run = h.run("eagain_giveup", "recv-late", env={"SOCKDIAG_RETRY": spec})
        expect_exit(run, 0)
        expect_line(run, "recv: 4 OK")


def eagain_pipe_left_alone(h):
    run = h.run("eagain_giveup", "pipe-late", env={"SOCKDIAG_RETRY": "eagain"})
    expect_line(run, "read: -1 EAGAIN")
    expect_no_retries(run)


for _mode, _call in (("recv-late", "recv"), ("read-late", "read"), ("accept-late", "accept"),
                     ("send-late", "send")):
    case(f"eagain {_call} waited out")(eagain_waited_out(_mode, _call))
case("eagain bound reached")(eagain_bound)
case("eagain seen without eagain")(eagain_nothing_configured)
case("eagain MSG_DONTWAIT not retried")(eagain_not_retried("recv-dontwait", {"SOCKDIAG_RETRY": "eagain"}))
case("eagain SO_RCVTIMEO not retried")(eagain_not_retried("recv-rcvtimeo", {"SOCKDIAG_RETRY": "eagain"}))
case("eagain limited to calls")(eagain_limited_to_calls)
case("eagain pipe read left alone")(eagain_pipe_left_alone)
