// Jittered delays (delay=A..B, delay=M~S in shim/core/rules.h): the draws
// follow the distribution asked for, and depend only on the seed and the
// rule's call number, so a run with the same seed delays the same calls by
// the same times.
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rules.h"

using namespace sd;

namespace {

using SetPtr = std::unique_ptr<RuleSet, void (*)(RuleSet*)>;

SetPtr rules(const char* text, uint64_t seed) {
  std::string err;
  RuleSet* s = parse_rules(text, "SOCKDIAG_INJECT", &err);
  INFO(err);
  REQUIRE(s != nullptr);
  s->seed = seed;
  return SetPtr(s, free_rules);
}

MatchInput send_call() {
  MatchInput in;
  in.call = CallId::send;
  in.family = AF_INET;
  in.sock_type = SOCK_STREAM;
  return in;
}

// The delays of the first `n` matching calls, through the matcher as the
// library asks it (match, then delay_ns of the acting rule); the first
// acting rule's.
std::vector<double> draws_ms(const RuleSet& set, int n) {
  std::vector<double> out;
  MatchInput in = send_call();
  for (int i = 0; i < n; ++i) {
    Matched m;
    REQUIRE(match(set, in, &m) >= 1);
    out.push_back(static_cast<double>(delay_ns(m, 0)) / 1e6);
  }
  return out;
}

struct Moments {
  double mean = 0, sd = 0, min = 1e300, max = 0;
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.sd += (x - m.mean) * (x - m.mean);
  m.sd = std::sqrt(m.sd / static_cast<double>(v.size() - 1));
  return m;
}

}  // namespace

TEST_CASE("a delay range draws evenly between its ends") {
  SetPtr set = rules("send:delay=100ms..200ms", 42);
  std::vector<double> d = draws_ms(*set, 10000);
  Moments m = moments(d);
  CHECK(m.min >= 100.0);
  CHECK(m.max <= 200.0);
  CHECK(m.mean == Approx(150.0).epsilon(0.05));
  // A uniform spread over 100 ms has a deviation of 100 / sqrt(12).
  CHECK(m.sd == Approx(100.0 / std::sqrt(12.0)).epsilon(0.05));
  // Each tenth of the range gets about a tenth of the draws.
  int tenths[10] = {};
  for (double x : d) ++tenths[std::min(9, static_cast<int>((x - 100.0) / 10.0))];
  for (int t : tenths) CHECK(std::abs(t - 1000) < 150);
}

TEST_CASE("a normal delay has the mean and deviation asked for") {
  SetPtr set = rules("send:delay=150ms~20ms", 7);
  std::vector<double> d = draws_ms(*set, 10000);
  Moments m = moments(d);
  CHECK(m.mean == Approx(150.0).epsilon(0.05));
  CHECK(m.sd == Approx(20.0).epsilon(0.05));
  CHECK(m.min >= 150.0 - 6 * 20.0);
  CHECK(m.max <= 150.0 + 6 * 20.0);
  // About 68% within one deviation, 95% within two.
  int one = 0, two = 0;
  for (double x : d) {
    one += std::abs(x - 150.0) <= 20.0;
    two += std::abs(x - 150.0) <= 40.0;
  }
  CHECK(std::abs(one - 6827) < 200);
  CHECK(std::abs(two - 9545) < 100);
}

TEST_CASE("a normal delay is never negative") {
  SetPtr set = rules("send:delay=1ms~1ms", 3);
  std::vector<double> d = draws_ms(*set, 5000);
  int zero = 0;
  for (double x : d) {
    CHECK(x >= 0.0);
    zero += x == 0.0;
  }
  // Draws more than one deviation below the mean are cut at 0 (~16%).
  CHECK(zero > 500);
  CHECK(zero < 1100);
}

TEST_CASE("the same seed draws the same delays, another seed others") {
  std::vector<double> a = draws_ms(*rules("send:delay=10ms..90ms", 1234), 200);
  std::vector<double> b = draws_ms(*rules("send:delay=10ms..90ms", 1234), 200);
  std::vector<double> c = draws_ms(*rules("send:delay=10ms..90ms", 4321), 200);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("a fixed delay draws nothing") {
  SetPtr set = rules("send:delay=25ms; recv:delay=1ms..9ms", 5);
  MatchInput in = send_call();
  Matched m;
  REQUIRE(match(*set, in, &m) == 1);
  const Rule* r = m.rule[0];
  CHECK(delay_ns(m, 0) == 25'000'000u);
  CHECK(delay_of_draw(*r, 123456789) == 25'000'000u);
}

TEST_CASE("a jittered delay's draw follows the rule's call number, not the match order of other rules") {
  // The second rule's draws are the same whether or not the first rule
  // (which only delays another call) is there.
  SetPtr alone = rules("send:delay=1ms..100ms", 99);
  SetPtr with_other = rules("send:delay=1ms..100ms; recv:delay=5ms..6ms", 99);
  CHECK(draws_ms(*alone, 50) == draws_ms(*with_other, 50));
}

TEST_CASE("two jittered delays on one call draw apart, each from its own stream") {
  SetPtr alone = rules("send:delay=1ms..100ms", 99);
  SetPtr both = rules("send:delay=1ms..100ms; send:delay=200ms..300ms", 99);
  MatchInput in = send_call();
  for (int i = 0; i < 50; ++i) {
    Matched one, two;
    REQUIRE(match(*alone, in, &one) == 1);
    REQUIRE(match(*both, in, &two) == 2);
    CHECK(delay_ns(two, 0) == delay_ns(one, 0));  // the first rule draws as it does alone
    CHECK(delay_ns(two, 1) >= 200'000'000u);
    CHECK(delay_ns(two, 1) <= 300'000'000u);
  }
}
