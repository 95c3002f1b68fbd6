// The relocatable form of a rule set (see rule_image.h).
#include "rule_image.h"

#include <cstring>
#include <vector>

namespace sd {

namespace {

constexpr std::size_t kAlign = alignof(Rule) > alignof(RuleSet) ? alignof(Rule) : alignof(RuleSet);

constexpr std::size_t round_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Where each part starts, from the set's counts alone.
struct Parts {
  std::size_t rules, by_call, strings, end;
};

Parts parts_of(uint32_t count, uint32_t links, std::size_t string_bytes) {
  Parts p{};
  p.rules = round_up(sizeof(RuleSet));
  p.by_call = p.rules + round_up(std::size_t{count} * sizeof(Rule));
  p.strings = p.by_call + round_up(std::size_t{links} * sizeof(uint16_t));
  p.end = p.strings + string_bytes;
  return p;
}

template <class T>
T offset_as(std::size_t off) {
  return reinterpret_cast<T>(static_cast<uintptr_t>(off));
}
std::size_t as_offset(const void* p) { return static_cast<std::size_t>(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

std::string rule_image(const RuleSet& set) {
  uint32_t links = set.first[kRuleCallCount];
  std::string strings;
  auto add = [&strings](const char* s) {
    std::size_t at = strings.size();
    strings.append(s);
    strings.push_back('\0');
    return at;
  };
  RuleSet head = set;
  std::string rules(std::size_t{set.count} * sizeof(Rule), '\0');
  std::vector<std::size_t> string_offsets(std::size_t{set.count} * 5);
  for (uint32_t i = 0; i < set.count; ++i) {
    const Rule& r = set.rules[i];
    string_offsets[5 * i] = add(r.text);
    string_offsets[5 * i + 1] = add(r.target);
    string_offsets[5 * i + 2] = add(r.peer_path);
    string_offsets[5 * i + 3] = add(r.host);
    string_offsets[5 * i + 4] = add(r.prog);
  }
  Parts p = parts_of(set.count, links, strings.size());
  std::string out(p.end, '\0');
  for (uint32_t i = 0; i < set.count; ++i) {
    Rule r = set.rules[i];
    r.text = offset_as<const char*>(p.strings + string_offsets[5 * i]);
    r.target = offset_as<const char*>(p.strings + string_offsets[5 * i + 1]);
    r.peer_path = offset_as<const char*>(p.strings + string_offsets[5 * i + 2]);
    r.host = offset_as<const char*>(p.strings + string_offsets[5 * i + 3]);
    r.prog = offset_as<const char*>(p.strings + string_offsets[5 * i + 4]);
    std::memcpy(&out[p.rules + i * sizeof(Rule)], &r, sizeof(Rule));
  }
  head.tally = nullptr;
  head.tally_base = 0;
  head.rules = offset_as<const Rule*>(p.rules);
  head.by_call = offset_as<const uint16_t*>(p.by_call);
  head.strings = offset_as<char*>(p.strings);
  head.counters = nullptr;
  std::memcpy(&out[0], &head, sizeof(head));
  if (links) std::memcpy(&out[p.by_call], set.by_call, std::size_t{links} * sizeof(uint16_t));
  if (!strings.empty()) std::memcpy(&out[p.strings], strings.data(), strings.size());
  return out;
}

const char* check_rule_image(const void* image, std::size_t size) {
  if (size < sizeof(RuleSet) || reinterpret_cast<uintptr_t>(image) % kAlign) return "the rule block is too short";
  RuleSet head;
  std::memcpy(&head, image, sizeof(head));
  if (head.count > kMaxRules) return "the rule block holds too many rules";
  uint32_t links = head.first[kRuleCallCount];
  if (links > head.count * kRuleCallCount) return "the rule block's index is too long";
  for (unsigned c = 0; c < kRuleCallCount; ++c)
    if (head.first[c] > head.first[c + 1]) return "the rule block's index is out of order";
  if (size < round_up(sizeof(RuleSet))) return "the rule block is too short";
  Parts p = parts_of(head.count, links, 0);
  if (as_offset(head.rules) != p.rules || as_offset(head.by_call) != p.by_call ||
      as_offset(head.strings) != p.strings || p.strings > size)
    return "the rule block's parts are misplaced";
  const char* base = static_cast<const char*>(image);
  const auto* by_call = reinterpret_cast<const uint16_t*>(base + p.by_call);
  for (uint32_t i = 0; i < links; ++i)
    if (by_call[i] >= head.count) return "the rule block's index names no rule";
  // Every string: inside the strings part, ended before the block ends.
  auto string_ok = [&](const char* off) {
    std::size_t at = as_offset(off);
    return at >= p.strings && at < size && std::memchr(base + at, '\0', size - at) != nullptr;
  };
  for (uint32_t i = 0; i < head.count; ++i) {
    Rule r;
    std::memcpy(&r, base + p.rules + i * sizeof(Rule), sizeof(Rule));
    if (r.index != i || !string_ok(r.text) || !string_ok(r.target) || !string_ok(r.peer_path) ||
        !string_ok(r.host) || !string_ok(r.prog))
      return "a rule of the rule block is damaged";
  }
  return nullptr;
}

RuleSet* relocate_rule_image(void* mem, std::size_t size, RuleCounters* counters) {
  char* base = static_cast<char*>(mem);
  auto* set = reinterpret_cast<RuleSet*>(base);
  (void)size;
  auto at = [base](const void* off) { return base + as_offset(off); };
  auto* rules = reinterpret_cast<Rule*>(at(set->rules));
  for (uint32_t i = 0; i < set->count; ++i) {
    Rule& r = rules[i];
    r.text = at(r.text);
    r.target = at(r.target);
    r.peer_path = at(r.peer_path);
    r.host = at(r.host);
    r.prog = at(r.prog);
  }
  set->rules = rules;
  set->by_call = reinterpret_cast<const uint16_t*>(at(set->by_call));
  set->strings = at(set->strings);
  set->counters = counters;
  // A pointer read from another process's image means nothing here.
  set->tally = nullptr;
  set->tally_base = 0;
  return set;
}

}  // namespace sd
