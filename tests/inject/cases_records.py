"""What an injection leaves behind: records marked injected with the rule in
normal form, the per-rule exit summary, and rules taken from a
SOCKDIAG_CONFIG file."""
import socket

from inject_harness import case, expect, expect_eq, read_text


@case("records name the rule in normal form and the summary counts per rule")
def _(h):
    peer = h.peer(send=10)
    spelled = f"connect : times=2 : error=111 : port={peer.port} ; recv : delay=0.25s"
    normal_connect = f"connect:error=ECONNREFUSED:port={peer.port}:times=2"
    run = h.run([h.prog("sockops"), "connects", 3, "127.0.0.1", peer.port, "connect", "127.0.0.1", peer.port,
                 "sleep", 100, "recv1", 10], inject=spelled, settings={"LEVEL": "info"}).expect_rc(0)
    expect_eq(run.step("connects")["results"], "ECONNREFUSED,ECONNREFUSED,OK", "connects", run.describe())
    expect_eq([(r["call"], r["code"], r["rule"]) for r in run.injected()],
              [("connect", "ECONNREFUSED", normal_connect)] * 2 + [("recv", "INJECTED_DELAY", "recv:delay=250ms")],
              "injected records: call, code, rule", run.describe())
    expect(all(r["injected"] is False for r in run.records if not r.get("rule")),
           "a record without a rule is marked injected", run.describe())
    expect_eq(run.rule_counts(), {normal_connect: 2, "recv:delay=250ms": 1}, "the summary's count per rule",
              run.describe())
    # The text format says the same in words.
    text_log = h.path("text.log")
    text = h.run([h.prog("sockops"), "connects", 1, "127.0.0.1", peer.port], inject=spelled,
                 settings={"LOG": text_log, "FORMAT": "text", "SUMMARY": 1}).expect_rc(0)
    log = read_text(text_log)
    expect(f"[injected by '{normal_connect}']" in log, "the text record does not name the rule",
           text.describe() + "\nlog:\n" + log)
    expect(any(normal_connect in line and line.rstrip().endswith("1 injected") for line in log.splitlines()),
           "the text summary has no line for the rule with its count", log)


@case("rules from a config file after those of the variable")
def _(h):
    peer = h.peer()
    conf = h.path("app.conf")
    with open(conf, "w") as f:
        f.write("# faults for the test\n\n"
                "level = info\n"
                f"inject = connect:error=ECONNREFUSED:port={peer.port}:nth=1..2   # its calls 1 and 2\n"
                "   inject=setsockopt:error=ENOBUFS:every=2\n"
                "seed = 5\n")
    run = h.run([h.prog("sockops"), "connects", 4, "127.0.0.1", peer.port, "sockopt", 4],
                inject="connect:error=EHOSTUNREACH:nth=1", settings={"CONFIG": conf}).expect_rc(0)
    # Both rules count connect 1: the variable's rule comes first and ends
    # it, so the file's rule has only seen it (rules compose, one ending a
    # call) and fails its call 2 alone.
    expect_eq(run.step("connects")["results"], "EHOSTUNREACH,ECONNREFUSED,OK,OK",
              "connects: the variable's rule first, then the file's", run.describe())
    expect_eq(run.step("sockopt")["failed"], "2,4", "setsockopt calls failed by the file's second rule",
              run.describe())
    expect_eq(list(run.rule_counts().items()),
              [("connect:error=EHOSTUNREACH:nth=1", 1), (f"connect:error=ECONNREFUSED:port={peer.port}:nth=1..2", 1),
               ("setsockopt:error=ENOBUFS:every=2", 2)], "the summary's rules, in order, with counts",
              run.describe())


@case("config file value with a hash inside quotes")
def _(h):
    # INJECT.md: '#' starts a comment only where a rule may start or after a
    # blank; a value holding '#' is quoted. A unix socket path may hold one.
    path = h.path("run#1.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    h.closers.append(listener.close)
    rule = f'connect:error=ECONNREFUSED:peer="{path}"'
    by_variable = h.run([h.prog("sockops"), "unix", path], inject=rule).expect_rc(0)
    expect_eq(by_variable.step("unix")["err"], "ECONNREFUSED", "connect, rule in SOCKDIAG_INJECT",
              by_variable.describe())
    conf = h.path("hash.conf")
    with open(conf, "w") as f:
        f.write(f"inject = {rule}   # refuse the socket\n")
    by_file = h.run([h.prog("sockops"), "unix", path], settings={"CONFIG": conf})
    by_file.expect_rc(0)
    expect_eq(by_file.step("unix")["err"], "ECONNREFUSED", "connect, the same rule in a config file",
              by_file.describe())
