// Datagram faults in the rule language (drop, duplicate, reorder, truncate in
// shim/core/rules.h): their normal form, the refusals where they make no
// sense, and the matcher, which never lets them touch a stream.
#include <sys/socket.h>

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "rule_testing.h"
#include "rules.h"

using namespace sd;
using namespace sd::testing;

namespace {

std::string refusal(const std::string& text) { return parse_error(text); }

MatchInput call(CallId id, int type) {
  MatchInput in;
  in.call = id;
  in.family = AF_INET;
  in.sock_type = type;
  return in;
}

}  // namespace

TEST_CASE("datagram actions parse and print in normal form", "[rules][datagram]") {
  check_normal("output:drop", "output:drop");
  check_normal("input : drop : prob = 25%", "input:drop:prob=0.25");
  check_normal("sendto:drop:nth=2..4:kind=udp", "sendto:drop:kind=udp:nth=2..4");
  check_normal("io:duplicate:every=3", "io:duplicate:every=3");
  check_normal("recv:reorder=3", "recv:reorder=3");
  check_normal("output:reorder=0.02s", "output:reorder=20ms");
  check_normal("input:reorder=1500us:kind=unix", "input:reorder=1500us:kind=unix");
  check_normal("recvmsg:truncate=64", "recvmsg:truncate=64");
  check_normal("send:truncate=1024", "send:truncate=1K");
  check_normal("recvmmsg:drop:times=2", "recvmmsg:drop:times=2");

  SetPtr s = parse_ok("io:drop; io:duplicate; io:reorder=3; io:reorder=20ms; io:truncate=64");
  CHECK(s->rules[0].action == RuleAction::drop);
  CHECK(s->rules[1].action == RuleAction::duplicate);
  CHECK(s->rules[2].action == RuleAction::reorder);
  CHECK(s->rules[2].reorder_n == 3);
  CHECK(s->rules[2].wait_ns == 0);
  CHECK(s->rules[3].reorder_n == 0);
  CHECK(s->rules[3].wait_ns == 20000000);
  CHECK(s->rules[4].action == RuleAction::truncate);
  CHECK(s->rules[4].bytes == 64);
  for (uint32_t i = 0; i < s->count; ++i) CHECK(is_datagram_action(s->rules[i].action));
  CHECK_FALSE(is_datagram_action(RuleAction::close));
  CHECK(std::string(rule_action_name(RuleAction::reorder)) == "reorder");
}

TEST_CASE("datagram actions are refused with one line where they make no sense", "[rules][datagram]") {
  std::string e = refusal("io:drop:kind=tcp");
  CHECK(e.find("column 4") != std::string::npos);
  CHECK(e.find("drop acts on datagrams (UDP, unix datagram sockets); kind=tcp is a stream") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
  CHECK(refusal("output:reorder=2:kind=tcp6").find("reorder acts on datagrams") != std::string::npos);
  CHECK(refusal("connect:drop").find("drop does not apply to connect") != std::string::npos);
  CHECK(refusal("wait:duplicate").find("duplicate does not apply to poll") != std::string::npos);
  CHECK(refusal("close:truncate=4").find("truncate does not apply to close") != std::string::npos);
  CHECK(refusal("recv:reorder").find("a value after reorder, e.g. reorder=3 or reorder=20ms") != std::string::npos);
  CHECK(refusal("recv:reorder=0").find("reorder") != std::string::npos);
  CHECK(refusal("recv:reorder=1001").find("1000") != std::string::npos);
  CHECK(refusal("recv:reorder=3x").find("expected a duration unit") != std::string::npos);
  CHECK(refusal("recv:truncate=0").find("truncate") != std::string::npos);
  CHECK(refusal("recv:drop=1").find("drop") != std::string::npos);
  CHECK(refusal("recv:drop:duplicate").find("one action") != std::string::npos);
}

TEST_CASE("datagram actions match datagram sockets only", "[rules][match][datagram]") {
  SetPtr s = parse_ok("io:drop:nth=1..");
  CHECK(first_acting(*s, call(CallId::send, SOCK_STREAM)) == nullptr);
  CHECK(first_acting(*s, call(CallId::recv, SOCK_SEQPACKET)) == nullptr);
  CHECK(first_acting(*s, call(CallId::sendto, SOCK_DGRAM)) == &s->rules[0]);
  CHECK(first_acting(*s, call(CallId::recvmmsg, SOCK_DGRAM | SOCK_NONBLOCK)) == &s->rules[0]);
  // A stream's calls were never counted: the datagram calls took numbers 1 and 2.
  CHECK(s->counters[0].seen.load() == 2);
}

TEST_CASE("each datagram is one call number for nth and every", "[rules][match][datagram]") {
  SetPtr s = parse_ok("output:drop:every=2");
  int dropped = 0;
  for (int i = 0; i < 10; ++i) dropped += first_acting(*s, call(CallId::sendmmsg, SOCK_DGRAM)) != nullptr;
  CHECK(dropped == 5);
  CHECK(injections(*s, 0) == 5);
}
