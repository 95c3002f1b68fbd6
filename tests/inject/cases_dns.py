"""Injected DNS failures, and the host filter: the name the program gave
getaddrinfo, matched at the lookup itself and, later, on the connections to
the addresses it returned."""
from inject_harness import Hosts, case, expect_eq


@case("dns failures EAI_AGAIN EAI_NONAME EAI_FAIL")
def _(h):
    rules = ("getaddrinfo:error=EAI_AGAIN:host=db.sockdiag.test; dns:error=EAI_NONAME:host=*.missing.test; "
             "getaddrinfo:error=EAI_FAIL:host=broken.sockdiag.test")
    run = h.run([h.prog("sockops"), "resolve", "db.sockdiag.test", "resolve", "api.missing.test", "resolve",
                 "BROKEN.sockdiag.test", "resolve", "localhost", "resolve", "127.0.0.1"], inject=rules).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("resolve")], ["EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "OK", "OK"],
              "getaddrinfo results (host globs ignore case; other names resolve)", run.describe())
    recs = [(r["call"], r["code"], r["host"], r["rule"]) for r in run.injected()]
    expect_eq(recs, [
        ("getaddrinfo", "EAI_AGAIN", "db.sockdiag.test", "getaddrinfo:error=EAI_AGAIN:host=db.sockdiag.test"),
        ("getaddrinfo", "EAI_NONAME", "api.missing.test", "dns:error=EAI_NONAME:host=*.missing.test"),
        ("getaddrinfo", "EAI_FAIL", "BROKEN.sockdiag.test", "getaddrinfo:error=EAI_FAIL:host=broken.sockdiag.test"),
    ], "injected records: call, code, host, rule", run.describe())


@case("host filter on connect and recv")
def _(h):
    hosts = Hosts(h)
    peer = h.peer(send=100)
    name = hosts.name
    rules = f"connect:error=ECONNREFUSED:host={name}:nth=1; recv:eof:host={name}"
    run = h.run([h.prog("sockops"), "connect", name, peer.port, "connect", name, peer.port, "sleep", 100,
                 "recv1", 10], inject=rules, settings={"LEVEL": "info"}, wrap=hosts.wrap).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")], ["ECONNREFUSED", "OK"],
              f"connects to {name}: the first refused (nth=1), then one that works", run.describe())
    expect_eq((run.step("recv1")["got"], run.step("recv1")["end"]), ("0", "EOF"),
              f"recv on the connection to {name}", run.describe())
    expect_eq([(r["call"], r["code"], r["host"]) for r in run.injected()],
              [("connect", "ECONNREFUSED", name), ("recv", "EOF", name)], "injected records", run.describe())


@case("host filter when another name has the same address")
def _(h):
    # Two names on one address (localhost and a service name on 127.0.0.1,
    # virtual hosts behind one IP): the connection to the address is matched
    # by the name the program resolved for it last, not by the first name
    # ever resolved to that address.
    hosts = Hosts(h)
    peer = h.peer(send=100)
    name = hosts.name
    rules = f"connect:error=ECONNREFUSED:host={name}:nth=1; recv:eof:host={name}"
    run = h.run([h.prog("sockops"), "connect", "localhost", peer.port, "sleep", 100, "recv1", 10,
                 "connect", name, peer.port, "connect", name, peer.port, "sleep", 100, "recv1", 10],
                inject=rules, wrap=hosts.wrap).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("connect")], ["OK", "ECONNREFUSED", "OK"],
              f"connects: to localhost, then to {name} (refused by nth=1), then to {name} again", run.describe())
    expect_eq([(s["got"], s["end"]) for s in run.steps("recv1")], [("10", "OK"), ("0", "EOF")],
              f"recv on the connection to localhost, then on the one to {name}", run.describe())


# Lookups that never ask DNS: a literal address (as getaddrinfo reads one:
# dotted or not, IPv6 with a scope), AI_NUMERICHOST, a NULL node. Each is
# "resolve/HOW HOST" of sockops.
NEVER_DNS = [("resolve", "127.0.0.1"), ("resolve", "::1"), ("resolve", "127.1"), ("resolve/inet6", "::1"),
             ("resolve/numeric", "127.0.0.1"), ("resolve/numeric", "db.sockdiag.test"),
             ("resolve/passive", "-"), ("resolve", "-")]


@case("dns rules leave literal addresses and numeric lookups alone")
def _(h):
    numeric = [h.prog("sockops")]
    for step, host in NEVER_DNS:
        numeric += [step, host]
    plain = h.run_plain(numeric).expect_rc(0)
    # The name last: under the rules it is answered by the injection (no
    # real DNS query is made; without the library it is not looked up).
    argv = numeric + ["resolve", "db.sockdiag.test"]
    wanted = [s["err"] for s in plain.steps("resolve")] + ["EAI_AGAIN"]
    for rules in ("dns:error=EAI_AGAIN", "getaddrinfo:error=EAI_AGAIN:prob=1", "dns:error=EAI_AGAIN:host=*"):
        run = h.run(argv, inject=rules).expect_rc(0)
        expect_eq([s["err"] for s in run.steps("resolve")], wanted,
                  f"getaddrinfo results under '{rules}' (the literal and numeric lookups as without the library, "
                  "then a name that asks DNS)", run.describe() + "\nwithout the library:\n" + plain.describe())
        expect_eq([(r["call"], r["code"], r["host"]) for r in run.injected()],
                  [("getaddrinfo", "EAI_AGAIN", "db.sockdiag.test")], f"injected records under '{rules}'",
                  run.describe())


@case("dns rules without host leave names from /etc/hosts alone")
def _(h):
    # A name the hosts file answers never reaches DNS: a DNS outage cannot
    # fail it. A rule's host= filter names the lookups it means, hosts file
    # or not (the curl name-lookup case relies on it).
    hosts = Hosts(h)
    name = hosts.name
    local = [h.prog("sockops"), "resolve", name, "resolve", name.upper(), "resolve/inet", name]
    plain = h.run_plain(hosts.wrap_plain(local)).expect_rc(0)
    expect_eq([s["err"] for s in plain.steps("resolve")], ["OK"] * 3,
              f"{name} from the hosts file, without the library", plain.describe())
    run = h.run(local + ["resolve", "db.sockdiag.test"], inject="dns:error=EAI_AGAIN", wrap=hosts.wrap).expect_rc(0)
    expect_eq([s["err"] for s in run.steps("resolve")], ["OK", "OK", "OK", "EAI_AGAIN"],
              f"lookups under dns:error=EAI_AGAIN: {name} (hosts file) three ways, then a name only DNS can answer",
              run.describe())
    named = h.run(local, inject=f"dns:error=EAI_AGAIN:host={name}", wrap=hosts.wrap).expect_rc(0)
    expect_eq([s["err"] for s in named.steps("resolve")], ["EAI_AGAIN"] * 3,
              f"lookups of {name} under dns:error=EAI_AGAIN:host={name} (named by the rule)", named.describe())
