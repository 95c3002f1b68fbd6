"""`sockdiag run --replay LOG`: the faults of an earlier run, at the same
calls (program, connection key, call index), whatever the seed; and no
other fault."""
import http.server
import threading

from cases_reproducible import sockdiag_run
from inject_harness import case, expect, expect_eq, read_text

# A refusal, a reset and a jittered delay, each at random calls.
CLIENT_RULES = ["connect:error=ECONNREFUSED:prob=0.3", "recv:error=ECONNRESET:prob=0.1",
                "send:delay=1ms..4ms:prob=0.3"]


def fired(run):
    """Each injected fault's own record, as the replay reads it: where it
    struck and what it did."""
    faults = [(r.get("prog"), r.get("call"), r.get("conn"), r.get("call_n"), r.get("rule"), r.get("code"),
               r.get("drawn_ns")) for r in run.records if "call_n" in r]
    aftermath = [r for r in run.injected() if "call_n" not in r and r.get("code") not in ("EPIPE", "EOF", "")]
    return faults, aftermath


def options(rules):
    out = ["--level", "info"]
    for rule in rules:
        out += ["--inject", rule]
    return out


def client_run(h, peer, extra):
    argv = [h.prog("replay_client"), "127.0.0.1", peer.port, 12, 300, 10]
    return sockdiag_run(h, extra, argv).expect_rc(0)


@case("replay gives the same faults at the same calls under another seed")
def _(h):
    peer = h.peer(send=300)
    first = client_run(h, peer, options(CLIENT_RULES) + ["--seed", "11"])
    faults, _ = fired(first)
    kinds = {f[4] for f in faults}
    expect_eq(kinds, set(CLIENT_RULES), "the rules that injected in the first run (seed 11)", first.describe())
    for prog, call, conn, n, rule, code, drawn in faults:
        expect(prog == "replay_client" and n >= 1, f"a fault without its call's identity: {conn!r} {n!r}",
               first.describe())
        expect(conn.startswith("127.0.0.1:%d#" % peer.port), f"connection key {conn!r}: not the peer's",
               first.describe())
        expect((drawn is not None) == rule.startswith("send:delay"), f"drawn_ns on {rule}: {drawn!r}",
               first.describe())
    other = client_run(h, peer, options(CLIENT_RULES) + ["--seed", "12"])
    expect(fired(other)[0] != faults, "seed 12 gave the faults of seed 11: the comparison below proves nothing",
           other.describe())
    replay = client_run(h, peer, ["--level", "info", "--seed", "12", "--replay", first.log])
    expect_eq(fired(replay)[0], faults, "the faults of the replay (seed 12) against those of the run replayed",
              replay.describe())
    expect_eq(replay.out, first.out, "what the client met, replayed", replay.describe())
    # A replay of the replay's own log: the same again. (Level info: a
    # delay's record is a notice, which a log at level error leaves out.)
    again = client_run(h, peer, ["--level", "info", "--replay", replay.log])
    expect_eq(fired(again)[0], faults, "the faults of a replay of the replay", again.describe())
    peer.close()


@case("replay refuses rules beside it and a garbled log with one line")
def _(h):
    peer = h.peer(send=300)
    first = client_run(h, peer, options(["connect:error=ECONNREFUSED:nth=2"]))
    argv = [h.prog("replay_client"), "127.0.0.1", peer.port, 1, 300, 1]
    both = sockdiag_run(h, ["--replay", first.log, "--inject", "recv:eof"], argv)
    expect_eq(both.rc, 2, "exit status of --replay with --inject", both.describe())
    lines = both.err.strip().splitlines()
    expect(len(lines) == 1 and "--replay replaces the injection rules" in lines[0] and "--inject" in lines[0],
           "one line saying --replay and --inject exclude each other", both.describe())
    garbled = h.path("garbled.json")
    text = read_text(first.log)
    with open(garbled, "w") as f:
        f.write(text + '{"v":1,"call":"recv",\n')
    bad = sockdiag_run(h, ["--replay", garbled], argv)
    expect_eq(bad.rc, 2, "exit status of --replay with a garbled log", bad.describe())
    lines = bad.err.strip().splitlines()
    expect(len(lines) == 1 and f"{garbled}:{len(text.splitlines()) + 1}: not a JSON record" in lines[0],
           "one line naming the garbled line", bad.describe())
    peer.close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    """The whole response in one write: the client's reads then do not
    depend on how the response's parts happen to arrive."""
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"x" * 2000
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def log_message(self, *args):
        pass


PY_CLIENT = r'''
import sys, urllib.request
for i in range(1, 11):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/%d" % (sys.argv[1], i), timeout=10) as r:
            print(i, "got", len(r.read()))
    except Exception as e:
        print(i, "failed", type(e).__name__)
'''


@case("replay of python3 making ten HTTP requests")
def _(h):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        argv = ["python3", "-c", PY_CLIENT, server.server_address[1]]
        # python3's connect with a timeout is non-blocking: its injected
        # refusal is recorded when python3 reads SO_ERROR, and replayed.
        rules = ["connect:error=ECONNREFUSED:prob=0.3", "recv:error=ECONNRESET:prob=0.3",
                 "send:delay=1ms..3ms:prob=0.5"]
        first = sockdiag_run(h, options(rules) + ["--seed", "5"], argv).expect_rc(0)
        faults, _ = fired(first)
        expect(len(faults) >= 3, f"only {len(faults)} faults injected into python3", first.describe())
        expect(any(f[1] == "connect" for f in faults), "no refused connect among python3's faults", first.describe())
        expect("failed" in first.out and "got" in first.out, "python3 met both failures and successes",
               first.describe())
        replay = sockdiag_run(h, ["--level", "info", "--seed", "6", "--replay", first.log], argv).expect_rc(0)
        expect_eq(fired(replay)[0], faults, "python3's faults, replayed under another seed", replay.describe())
        expect_eq(replay.out, first.out, "what python3 met, replayed", replay.describe())
    finally:
        server.shutdown()
        server.server_close()
