// The tally by rule, call and peer behind `sockdiag ctl counters`
// (injection_tally.h): what the matcher adds, what unclaim takes back, how
// entries name their peers.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "injection_tally.h"
#include "rule_testing.h"
#include "rules.h"

using namespace sd;
using namespace sd::testing;

namespace {

// "call peer" -> injected, over the filled entries of rule counter `counter`.
std::map<std::string, uint64_t> rows(const InjectionTally& t, uint32_t counter) {
  std::map<std::string, uint64_t> out;
  for (const TallyEntry& e : t.entries)
    if (e.state.load() == 2 && e.counter == counter)
      out[std::string(call_id_name(static_cast<CallId>(e.call))) + " " + tally_peer_text(e)] += e.injected.load();
  return out;
}

MatchInput call_to(CallId call, int family, const char* addr, uint16_t port, uint8_t* buf) {
  MatchInput in;
  in.call = call;
  in.family = family;
  in.sock_type = SOCK_STREAM;
  inet_pton(family, addr, buf);
  in.peer_addr = buf;
  in.peer_port = port;
  return in;
}

}  // namespace

TEST_CASE("the tally counts each rule's injections by call and peer", "[tally]") {
  auto tally = std::make_unique<InjectionTally>();
  SetPtr s = parse_ok("connect:error=ECONNREFUSED:port=5432; io:delay=1ms; recv:error=ECONNRESET:nth=2");
  s->tally = tally.get();
  s->tally_base = 100;
  uint8_t a[16], b[16], mapped[16];
  Matched m;
  for (int i = 0; i < 3; ++i) match(*s, call_to(CallId::connect, AF_INET, "10.0.0.7", 5432, a), &m);
  match(*s, call_to(CallId::connect, AF_INET6, "fd00::1", 5432, b), &m);
  // An IPv4-mapped peer is counted as the IPv4 address, as records name it.
  match(*s, call_to(CallId::connect, AF_INET6, "::ffff:10.0.0.7", 5432, mapped), &m);
  CHECK(rows(*tally, 100) == std::map<std::string, uint64_t>{{"connect 10.0.0.7:5432", 4}, {"connect [fd00::1]:5432", 1}});

  // Two rules acting on one call are each tallied; recv's second call only for the nth=2 rule.
  MatchInput r = call_to(CallId::recv, AF_INET, "10.0.0.7", 80, a);
  REQUIRE(match(*s, r, &m) == 1);
  REQUIRE(match(*s, r, &m) == 2);
  CHECK(rows(*tally, 101) == std::map<std::string, uint64_t>{{"recv 10.0.0.7:80", 2}});
  CHECK(rows(*tally, 102) == std::map<std::string, uint64_t>{{"recv 10.0.0.7:80", 1}});

  // Given back with the injection: the rule did not act after all.
  unclaim(*s, *m.rule[1], r);
  CHECK(rows(*tally, 102) == std::map<std::string, uint64_t>{{"recv 10.0.0.7:80", 0}});
  CHECK(injections(*s, 2) == 0);
  CHECK(tally->untallied.load() == 0);
}

TEST_CASE("the tally names unix peers by path and lookups by the name asked for", "[tally]") {
  auto tally = std::make_unique<InjectionTally>();
  MatchInput u;
  u.call = CallId::connect;
  u.family = AF_UNIX;
  u.peer_path = "/run/a-rather-long-directory-name/and-a-long-socket-name.sock";
  tally_injection(*tally, 0, u);
  MatchInput q;
  q.call = CallId::getaddrinfo;
  q.host = "db.internal";
  tally_injection(*tally, 1, q);
  tally_injection(*tally, 1, q);
  // Cut to the entry's room, still ended.
  CHECK(rows(*tally, 0) == std::map<std::string, uint64_t>{{"connect /run/a-rather-long-directory-name/and-a", 1}});
  CHECK(rows(*tally, 1) == std::map<std::string, uint64_t>{{"getaddrinfo db.internal", 2}});
}

TEST_CASE("a full neighbourhood of the table counts injections as untallied", "[tally]") {
  auto tally = std::make_unique<InjectionTally>();
  uint8_t a[16];
  // More distinct peers than the table has entries: the rest are untallied, none lost.
  const unsigned peers = kTallyEntries + 500;
  for (unsigned i = 0; i < peers; ++i) {
    std::string addr = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    tally_injection(*tally, 7, call_to(CallId::connect, AF_INET, addr.c_str(), 80, a));
  }
  uint64_t tallied = 0;
  for (const auto& row : rows(*tally, 7)) tallied += row.second;
  CHECK(tallied + tally->untallied.load() == peers);
  CHECK(tally->untallied.load() >= 500);
}
