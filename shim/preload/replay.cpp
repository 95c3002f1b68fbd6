// The replay table (see replay.h): an open-addressed hash of this program's
// faults, made at start-up, read without lock or allocation by the hooks.
#include "replay.h"

#include <vector>

namespace sd {

const Rule* g_replay_rules = nullptr;

namespace {

struct Slot {
  uint64_t base_hash;
  uint64_t n;  // 0: empty
  uint32_t ordinal;
  CallId call;
  const Rule* rule;
};

Slot* g_slots = nullptr;
uint64_t g_mask = 0;

uint64_t slot_of(uint64_t base_hash, uint32_t ordinal, CallId call, uint64_t n) {
  uint64_t h = base_hash ^ (uint64_t{ordinal} << 32) ^ (static_cast<uint64_t>(call) << 56) ^ (n * 0x9e3779b97f4a7c15ull);
  h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

}  // namespace

void replay_configure(const ReplayPlan& plan, const RuleSet& set, const char* prog) {
  std::vector<const ReplayFault*> mine;
  for (const ReplayFault& f : plan.faults)
    if (prog && f.prog == prog) mine.push_back(&f);
  uint64_t size = 16;
  while (size < 2 * mine.size()) size *= 2;
  g_slots = new Slot[size]();
  g_mask = size - 1;
  for (const ReplayFault* f : mine) {
    const Rule* rule = &set.rules[f->rule];
    if (f->drawn) {
      // The delay this call drew in the replayed run, drawn again by no
      // one: a range of one value keeps the rule's text and its record's
      // note of the draw (rule_match.cpp, delay_of_draw).
      auto* fixed = new Rule(*rule);
      fixed->wait_ns = fixed->wait_hi_ns = f->drawn_ns;
      fixed->wait_sd_ns = 0;
      rule = fixed;
    }
    uint64_t i = slot_of(f->base_hash, f->ordinal, f->call, f->n) & g_mask;
    while (g_slots[i].n) i = (i + 1) & g_mask;
    g_slots[i] = Slot{f->base_hash, f->n, f->ordinal, f->call, rule};
  }
  g_replay_rules = set.rules;
}

unsigned replay_lookup(const RuleSet& set, Matched* out) {
  out->count = 0;
  out->actions = 0;
  const CallPoint& p = current_point();
  if (!g_slots || p.n == 0) return 0;
  for (uint64_t i = slot_of(p.base_hash, p.ordinal, p.call, p.n) & g_mask; g_slots[i].n; i = (i + 1) & g_mask) {
    const Slot& s = g_slots[i];
    if (s.n != p.n || s.base_hash != p.base_hash || s.ordinal != p.ordinal || s.call != p.call) continue;
    if (out->count == kMaxActing) break;
    // In rule order, as the rules were asked in the run replayed.
    unsigned at = out->count;
    while (at > 0 && out->rule[at - 1]->index > s.rule->index) {
      out->rule[at] = out->rule[at - 1];
      out->draw[at] = out->draw[at - 1];
      --at;
    }
    out->rule[at] = s.rule;
    out->draw[at] = 0;  // a replayed draw is its rule's one value (replay_configure)
    out->actions |= action_bit(s.rule->action);
    ++out->count;
    RuleCounters& k = set.counters[s.rule->index];
    k.seen.fetch_add(1, std::memory_order_relaxed);
    k.injected.fetch_add(1, std::memory_order_relaxed);
  }
  return out->count;
}

}  // namespace sd
