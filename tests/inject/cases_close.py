"""The close action: the connection ends in order, as when a peer or a proxy
hangs up (toxiproxy's limit_data): the peer reads a FIN, the program's reads
end and its writes fail with EPIPE; with after_bytes the limit is exact."""
import os
import sys

from cases_real_programs import curl
from inject_harness import case, expect, expect_eq, pattern, wait_for_line


def connect(peer):
    return ["connect", "127.0.0.1", peer.port]


@case("close after_bytes ends input exactly there and the peer sees a FIN")
def _(h):
    peer = h.peer(send=5000)
    run = h.run([h.prog("sockops")] + connect(peer) + ["sleep", 100, "recv", 5000, 700, "recv1", 10, "close"],
                inject="input:close:after_bytes=3000", settings={"LEVEL": "info"}).expect_rc(0)
    step = run.step("recv")
    expect_eq((step["got"], step["end"], step["intact"]), ("3000", "EOF", "yes"),
              "the reads: exactly 3000 bytes, intact, then the end of stream", run.describe())
    expect_eq((run.step("recv1")["got"], run.step("recv1")["end"]), ("0", "EOF"),
              "a read after the close (2000 bytes were still waiting)", run.describe())
    # The peer's read ends with a FIN, not an RST: an orderly close.
    expect_eq(peer.wait(1)[0]["end"], "EOF", "how the peer's read ended", run.describe())
    recs = run.injected(code="EOF")
    expect_eq([(r["call"], r["rule"]) for r in recs], [("recv", "input:close:after_bytes=3KB")],
              "injected end-of-stream records", run.describe())


@case("close on a write fails it with EPIPE and the peer reads the end")
def _(h):
    peer = h.peer()
    run = h.run([h.prog("sockops")] + connect(peer) + ["send1", 10, "send1", 10, "send1", 10],
                inject="send:close:nth=2", settings={"LEVEL": "info"}).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("send1")], ["OK", "EPIPE", "EPIPE"],
              "the sends: one before the close, then broken pipes", run.describe())
    got = peer.wait(1)[0]
    expect_eq((got["data"], got["end"]), (pattern(10), "EOF"), "what the peer received, and how it ended",
              run.describe())
    recs = run.injected(code="EPIPE")
    expect_eq([r["rule"] for r in recs], ["send:close:nth=2"] * 2, "the EPIPE records, marked with the rule",
              run.describe())


@case("close on a write raises SIGPIPE as the kernel would")
def _(h):
    peer = h.peer()
    # Python ignores SIGPIPE unless told otherwise: here it takes the default.
    script = ("import signal, socket\n"
              "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
              f"s = socket.create_connection(('127.0.0.1', {peer.port}))\n"
              "s.send(b'one\\n')\n"
              "s.send(b'two\\n')\n"
              "print('alive')\n")
    run = h.run([sys.executable, "-c", script], inject="send:close:nth=2", settings={"SIGPIPE": "keep"})
    # A write to a connection closed in order kills a program that does
    # not ignore SIGPIPE, as without the library (SOCKDIAG_SIGPIPE=keep: the
    # library's default spares the program, and explains the EPIPE).
    expect_eq(run.rc, -13, "exit status (killed by SIGPIPE)", run.describe())
    expect("alive" not in run.out, "the program went on after the write that should have killed it",
           run.describe())
    expect_eq(peer.wait(1)[0]["data"], b"one\n", "what the peer received", run.describe())


@case("curl reports a transfer cut short by close after_bytes")
def _(h):
    root = h.path("www")
    os.mkdir(root)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(b"x" * 200000)
    proc = h.start([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root],
                   preload=False)
    port = int(wait_for_line(proc, r"port (\d+)").group(1))
    out = h.path("got.bin")
    run = h.run([curl(), "-sS", "-o", out, f"http://127.0.0.1:{port}/big.bin"],
                inject=f"input:close:after_bytes=50000:port={port}", settings={"LEVEL": "info"})
    # 18: "Transferred a partial file": the server hung up early.
    expect_eq(run.rc, 18, "curl's exit status", run.describe())
    expect(os.path.getsize(out) < 50000, f"curl kept {os.path.getsize(out)} bytes, more than the 50000 the "
           "connection carried (headers included)", run.describe())
    recs = run.injected(code="EOF")
    expect_eq(len(recs), 1, "injected end-of-stream records", run.describe())
