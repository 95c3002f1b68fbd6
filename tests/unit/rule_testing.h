// What the rule tests share: parsing a text that must parse (or must not),
// the normal form and its round trip, the rules acting on a call.
#pragma once
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules.h"

namespace sd::testing {

using SetPtr = std::unique_ptr<RuleSet, void (*)(RuleSet*)>;

inline SetPtr parse_ok(std::string_view text) {
  std::string err;
  RuleSet* s = parse_rules(text, "SOCKDIAG_INJECT", &err);
  INFO("text: " << text << "\nerror: " << err);
  REQUIRE(s != nullptr);
  return SetPtr(s, free_rules);
}

// The one line a refused text gets.
inline std::string parse_error(std::string_view text) {
  std::string err;
  RuleSet* s = parse_rules(text, "SOCKDIAG_INJECT", &err);
  free_rules(s);
  INFO("text: " << text);
  REQUIRE(s == nullptr);
  CHECK(err.find('\n') == std::string::npos);
  return err;
}

// The normal form of a text holding rules, one a line, no final newline.
inline std::string normal(std::string_view text) {
  SetPtr s = parse_ok(text);
  std::string n = format_rules(*s);
  if (!n.empty()) n.pop_back();
  return n;
}

// `text` is `expected` in normal form, which is its own normal form.
inline void check_normal(std::string_view text, std::string_view expected) {
  INFO("text: " << text);
  std::string n = normal(text);
  CHECK(n == expected);
  CHECK(normal(n) == n);
}

// The rules acting on a call, by index, in rule order (match_rules).
inline std::vector<uint32_t> acting(const RuleSet& s, const MatchInput& in) {
  Matched m;
  match(s, in, &m);
  std::vector<uint32_t> out;
  for (unsigned i = 0; i < m.count; ++i) out.push_back(m.rule[i]->index);
  return out;
}

// The first rule acting on a call, or nullptr.
inline const Rule* first_acting(const RuleSet& s, const MatchInput& in) {
  Matched m;
  return match(s, in, &m) ? m.rule[0] : nullptr;
}

}  // namespace sd::testing
