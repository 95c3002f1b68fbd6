// stall and slow_close in the rule language (shim/core/rules.h): their
// values, normal form, the calls and kinds they apply to, and the one-line
// refusals where they cannot happen.
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

bool holds(const std::string& text, const char* fragment) { return text.find(fragment) != std::string::npos; }

}  // namespace

TEST_CASE("stall: with and without a reset time, per direction", "[rules][stall]") {
  check_normal("input:stall", "input:stall");
  check_normal("output : stall", "output:stall");
  check_normal("io:stall=30s", "io:stall=30s");
  check_normal("recv:stall=1500ms:after_bytes=4096", "recv:stall=1500ms:after_bytes=4K");
  check_normal("io:stall:after=2s:nth=1", "io:stall:after=2s:nth=1");
  check_normal("input:stall:kind=tcp", "input:stall:kind=tcp");
  check_normal("input:stall:kind=unix", "input:stall:kind=unix");
  SetPtr s = parse_ok("input:stall; io:stall=2s");
  CHECK(s->rules[0].action == RuleAction::stall);
  CHECK(s->rules[0].wait_ns == 0);
  CHECK(s->rules[1].action == RuleAction::stall);
  CHECK(s->rules[1].wait_ns == 2000000000ull);
  CHECK(std::string(rule_action_name(RuleAction::stall)) == "stall");
}

TEST_CASE("slow_close: the FIN's delay on close", "[rules][stall]") {
  check_normal("close:slow_close=2s", "close:slow_close=2s");
  check_normal("close:slow_close=0.25s:port=8080", "close:slow_close=250ms:port=8080");
  check_normal("close:slow_close=1s:kind=tcp4:nth=2", "close:slow_close=1s:kind=tcp4:nth=2");
  check_normal("shutdown:slow_close=3s:port=25", "shutdown:slow_close=3s:port=25");
  SetPtr s = parse_ok("close:slow_close=1500ms");
  CHECK(s->rules[0].action == RuleAction::slow_close);
  CHECK(s->rules[0].wait_ns == 1500000000ull);
  CHECK(std::string(rule_action_name(RuleAction::slow_close)) == "slow_close");
}

TEST_CASE("stall and slow_close are refused where they cannot happen", "[rules][stall]") {
  std::string e = refusal("connect:stall");
  CHECK(holds(e, "column 9: stall does not apply to connect"));
  CHECK(holds(e, "connect takes the actions:"));
  CHECK(holds(refusal("wait:stall"), "stall does not apply to poll (wait includes poll)"));
  CHECK(holds(refusal("input:stall:kind=udp"), "stall does not happen to UDP (kind=udp)"));
  CHECK(holds(refusal("io:stall=2s:kind=udp6"), "stall does not happen to UDP (kind=udp6)"));
  CHECK(holds(refusal("input:stall="), "expected a value for stall, e.g. stall or stall=30s"));
  CHECK(holds(refusal("input:stall=30"), "expected a unit after '30' (us, ms or s)"));
  CHECK(holds(refusal("input:stall:eof"), "a rule has one action; this one already has stall"));
  CHECK(holds(refusal("close:slow_close"), "expected '=' and a value after slow_close, e.g. slow_close=2s"));
  CHECK(holds(refusal("recv:slow_close=2s"), "slow_close does not apply to recv"));
  CHECK(holds(refusal("close:slow_close=2s:kind=udp"), "slow_close does not happen to UDP"));
}
