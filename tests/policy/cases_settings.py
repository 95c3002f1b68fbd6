"""Nothing configured: no call is retried, the programs behave as without
the library. Bad retry and SIGPIPE settings are refused before main."""
from policy_harness import BLOCKING, case, expect, expect_exit, expect_line, same_as_without_library


def nothing_retried(h):
    for mode in ("recv", "accept", "connect", "poll", "epoll_wait"):
        call = BLOCKING[mode][0] if mode in BLOCKING else mode
        run = h.run("eintr_storm", mode, log=False)
        expect_exit(run, 1)
        expect_line(run, f"{call}: -1 EINTR")
        same_as_without_library(h, run, "eintr_storm", mode, keys=[call])
    run = h.run("eagain_giveup", "recv-late", log=False)
    same_as_without_library(h, run, "eagain_giveup", "recv-late", keys=["recv"])
    run = h.run("accept_server", "accept", preload="lib+stub", log=False)
    same_as_without_library(h, run, "accept_server", "accept", keys=["accept", "served"], preload_without="stub")


def bad_settings(values):
    def check(h):
        accepted = []
        for name, value in values:
            run = h.run("eagain_giveup", "recv-dontwait", env={name: value}, log=False)
            lines = run.stderr.strip().splitlines()
            if not (run.exit == 78 and not run.lines and len(lines) == 1 and lines[0].startswith(f"sockdiag: {name}")):
                accepted.append(f"{name}={value!r}: {run.ending()}, stderr {lines}")
        expect(not accepted, "expected each of these settings to be refused before main, with exit status 78 and "
               "one line 'sockdiag: NAME: ...' on stderr:\n" + "\n".join(accepted))
    return check


case("nothing configured nothing retried")(nothing_retried)
case("settings bad retry values refused")(bad_settings([
    ("SOCKDIAG_RETRY", "eintr,bogus"), ("SOCKDIAG_RETRY", "eagain@connect"), ("SOCKDIAG_RETRY", "eintr@close"),
    ("SOCKDIAG_RETRY", "econnaborted@recv"), ("SOCKDIAG_RETRY", "eintr@nosuchcall"),
    ("SOCKDIAG_RETRY_TIMEOUT_MS", "soon"), ("SOCKDIAG_RETRY_TIMEOUT_MS", "-1"), ("SOCKDIAG_RETRY_MAX", "x"),
    ("SOCKDIAG_SIGPIPE", "maybe")]))
case("settings empty call list refused")(bad_settings([
    ("SOCKDIAG_RETRY", "eintr@"), ("SOCKDIAG_RETRY", "eagain@recv+"), ("SOCKDIAG_RETRY", "eintr@+poll")]))
