// Building a rule set from the parsed rules (the per-call index the matcher
// walks, the peer bloom filters) and freeing it.
#include "rules.h"

#include <sys/socket.h>

#include <cstring>

namespace sd {

RuleSet* RuleParser::finish() {
  auto* set = new RuleSet;
  std::size_t n = rules_.size();
  set->count = static_cast<uint32_t>(n);
  // One block for every string, so that the set owns them all.
  std::size_t bytes = 0;
  auto measure = [&](const char* s) { bytes += std::strlen(s) + 1; };
  for (const Rule& r : rules_) {
    measure(r.text);
    measure(r.peer_path);
    measure(r.host);
    measure(r.prog);
  }
  set->strings = new char[bytes ? bytes : 1];
  char* at = set->strings;
  auto copy = [&](const char*& s) {
    std::size_t len = std::strlen(s) + 1;
    std::memcpy(at, s, len);
    s = at;
    at += len;
  };
  Rule* rules = new Rule[n ? n : 1];
  std::size_t links = 0;
  for (std::size_t i = 0; i < n; ++i) {
    rules[i] = rules_[i];
    copy(rules[i].text);
    copy(rules[i].peer_path);
    copy(rules[i].host);
    copy(rules[i].prog);
    set->call_mask |= rules[i].calls;
    links += static_cast<std::size_t>(__builtin_popcountll(rules[i].calls));
  }
  uint16_t* by_call = new uint16_t[links ? links : 1];
  std::size_t k = 0;
  for (unsigned c = 0; c < kRuleCallCount; ++c) {
    set->first[c] = static_cast<uint32_t>(k);
    bool peer_only = true;
    for (std::size_t i = 0; i < n; ++i) {
      if (!(rules[i].calls & call_bit(static_cast<CallId>(c)))) continue;
      by_call[k++] = static_cast<uint16_t>(i);
      if ((rules[i].filters & rf_peer) && rules[i].peer_family != AF_UNIX)
        set->peer_bloom[c] |= peer_bit(rules[i].peer_family, rules[i].peer_addr);
      else
        peer_only = false;
    }
    if (peer_only && set->first[c] != k) set->peer_only_mask |= call_bit(static_cast<CallId>(c));
  }
  set->first[kRuleCallCount] = static_cast<uint32_t>(k);
  set->rules = rules;
  set->by_call = by_call;
  set->counters = new RuleCounters[n ? n : 1];
  rules_.clear();
  strings_.clear();
  return set;
}

RuleSet* parse_rules(std::string_view text, std::string_view source, std::string* error) {
  RuleParser p;
  if (!p.add(text, source, 0, error)) return nullptr;
  return p.finish();
}

void free_rules(RuleSet* set) {
  if (!set) return;
  delete[] set->rules;
  delete[] set->counters;
  delete[] set->by_call;
  delete[] set->strings;
  delete set;
}

}  // namespace sd
