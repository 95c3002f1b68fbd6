#include "tree_summary.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "explain.h"
#include "interpose.h"
#include "addr_text.h"
#include "record.h"
#include "rules.h"
#include "table.h"

namespace sdcli {

namespace {

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

long pid_of(const nlohmann::json& j) {
  auto it = j.find("pid");
  return it != j.end() && it->is_number_integer() ? it->get<long>() : 0;
}

template <class Map>
std::vector<typename Map::const_iterator> by_count_desc(const Map& m,
                                                        uint64_t (*count)(const typename Map::mapped_type&)) {
  std::vector<typename Map::const_iterator> v;
  for (auto it = m.begin(); it != m.end(); ++it) v.push_back(it);
  std::stable_sort(v.begin(), v.end(), [count](auto a, auto b) { return count(a->second) > count(b->second); });
  return v;
}

std::string join(const std::set<std::string>& items, std::size_t max) {
  std::string out;
  std::size_t n = 0;
  for (const std::string& s : items) {
    if (n == max) return out + ", ... (" + std::to_string(items.size()) + " in all)";
    out += (n++ ? ", " : "") + s;
  }
  return out;
}

std::string process_name(const std::string& prog, long pid) { return prog + "[" + std::to_string(pid) + "]"; }

// A category by its name; a line from a library without categories is
// taken by its level, the one source of them (count_category.h).
sd::Category category_named(const std::string& name, const std::string& level, const std::string& code) {
  for (std::size_t c = 0; c < sd::kCategoryCount; ++c)
    if (name == sd::category_name(static_cast<sd::Category>(c))) return static_cast<sd::Category>(c);
  sd::CodeKind d = sd::CodeKind::errno_code;
  int n = 0;
  sd::code_from_name(code, &d, &n);
  sd::Level l = sd::Level::error;
  for (int i = 0; i <= static_cast<int>(sd::Level::trace); ++i)
    if (level == sd::level_name(static_cast<sd::Level>(i))) l = static_cast<sd::Level>(i);
  return sd::category_of(d, n, l);
}

const char* plural(uint64_t n, const char* one, const char* many) { return n == 1 ? one : many; }

}  // namespace

void TreeSummary::add_count(sd::Category category, const std::string& call, const std::string& code, uint64_t count,
                            uint64_t injected, const std::string& level, const std::string& process) {
  Count& c = counts_[{category, call, code}];
  c.count += count;
  c.injected += injected;
  c.level = level;
  c.processes.insert(process);
}

void TreeSummary::add_outcome(const std::string& process, long pid, const std::string& call, sd::CodeKind code_kind,
                              int code, sd::Level level, const std::string& rule, const std::string& peer) {
  pids_.insert(pid);
  add_count(sd::category_of(code_kind, code, level), call, sd::code_name(code_kind, code), 1, rule.empty() ? 0 : 1,
            sd::level_name(level), process);
  if (!rule.empty()) ++rules_[rule];
  if (code_kind != sd::CodeKind::event && level == sd::Level::error && !peer.empty()) ++peers_[peer];
}

void TreeSummary::read_table(const sd::ctab::Table& table, const sd::RuleSet* rules) {
  namespace ctab = sd::ctab;
  uint64_t own_hash = 0;
  if (rules) {
    own_hash = ctab::rules_hash(rules->count, [rules](uint32_t i) { return rules->rules[i].text; });
    for (uint32_t i = 0; i < rules->count; ++i) rules_[rules->rules[i].text] += 0;  // listed, matched or not
  }
  uint32_t used = std::min(table.header.next_slot.load(std::memory_order_acquire), ctab::kSlots);
  // The lanes of each slot: its process's threads' own counts.
  std::vector<std::vector<const ctab::Lane*>> lanes(used);
  uint32_t lanes_used = std::min(table.header.next_lane.load(std::memory_order_acquire), ctab::kLanes);
  for (uint32_t i = 0; i < lanes_used; ++i) {
    uint32_t tag = table.lanes[i].slot.load(std::memory_order_acquire);
    if (tag && tag <= used) lanes[tag - 1].push_back(&table.lanes[i]);
  }
  for (uint32_t i = 0; i < used; ++i) {
    const ctab::Slot& s = table.slots[i];
    long pid = s.pid.load(std::memory_order_relaxed);
    if (!pid || (!ctab::holds_anything(s) && std::none_of(lanes[i].begin(), lanes[i].end(), [](const ctab::Lane* l) {
                   return ctab::holds_anything(*l);
                 })))
      continue;
    pids_.insert(pid);
    std::string prog(s.prog, strnlen(s.prog, sizeof(s.prog)));
    std::string process = process_name(prog, pid);
    // (call, code, level) rows of the slot and its lanes, with the expected
    // EAGAIN of the fast path folded in.
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> rows;
    auto add = [&rows](uint32_t key, uint32_t count, uint32_t injected) {
      rows[key].first += count;
      rows[key].second += injected;
    };
    ctab::for_each_row(s, add);
    for (const ctab::Lane* l : lanes[i]) ctab::for_each_row(*l, add);
    for (const auto& [key, n] : rows) {
      if (!n.first && !n.second) continue;
      const char* call = ctab::key_call_name(key);
      auto code_kind = static_cast<sd::CodeKind>(ctab::key_code_kind(key));
      add_count(ctab::key_category(key), call, sd::code_name(code_kind, ctab::key_code(key)), n.first, n.second,
                sd::level_name(ctab::key_level(key)), process);
    }
    for (std::size_t c = 0; c < sd::kCategoryCount; ++c) unlisted_[c] += s.unlisted[c].load(std::memory_order_relaxed);
    dropped_ += s.records_dropped.load(std::memory_order_relaxed);
    unobserved_nested_ += s.unobserved_nested.load(std::memory_order_relaxed);
    unobserved_vm_children_ += s.unobserved_vm_children.load(std::memory_order_relaxed);
    for (const ctab::CountEntry& e : s.retries) {
      uint32_t key = e.key.load(std::memory_order_relaxed);
      if (key)
        retries_[{ctab::key_call_name(key), sd::code_name(sd::CodeKind::errno_code, ctab::key_code(key))}] +=
            e.count.load(std::memory_order_relaxed);
    }
    for (const ctab::PeerEntry& p : s.peers) {
      if (p.state.load(std::memory_order_relaxed) != 2) continue;
      sockaddr_storage ss;
      socklen_t len = ctab::peer_sockaddr(p, &ss);
      char addr[128];
      sd::format_addr(reinterpret_cast<sockaddr*>(&ss), len, addr, sizeof(addr));
      peers_[addr] += p.failures.load(std::memory_order_relaxed);  // a duplicate entry adds up here
    }
    uint32_t rule_count = s.rule_count.load(std::memory_order_relaxed);
    bool same_rules = rules && s.rules_hash.load(std::memory_order_relaxed) == own_hash && rule_count == rules->count;
    for (uint32_t r = 0; r < rule_count && r < ctab::kRuleEntries; ++r) {
      uint64_t n = s.rule_injections[r].load(std::memory_order_relaxed);
      if (same_rules) rules_[rules->rules[r].text] += n;
      else if (n) rules_["rule " + std::to_string(r + 1) + " of " + process + "'s own rules"] += n;
    }
    if (uint64_t n = s.rules_beyond.load(std::memory_order_relaxed))
      rules_["rules past the " + std::to_string(ctab::kRuleEntries) + "th, added up"] += n;
  }
}

void TreeSummary::read_file(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++unreadable_;
      continue;
    }
    std::string kind = str(j, "summary");
    long pid = pid_of(j);
    if (pid && kind != "private") pids_.insert(pid);  // the note alone is no report
    if (kind == "count") {
      std::string code = str(j, "code"), level = str(j, "level");
      add_count(category_named(str(j, "category"), level, code), str(j, "call"), code, num(j, "count"),
                num(j, "injected"), level, process_name(str(j, "prog"), pid));
    } else if (kind == "retry") {
      retries_[{str(j, "call"), str(j, "code")}] += num(j, "count");
    } else if (kind == "peer") {
      peers_[str(j, "peer")] += num(j, "failures");
    } else if (kind == "inject") {
      rules_[str(j, "rule")] += num(j, "count");  // every rule, matched or not
    } else if (kind == "private") {
      private_[str(j, "reason")].insert(process_name(str(j, "prog"), pid));
    } else if (kind == "unlisted") {
      unlisted_[static_cast<std::size_t>(category_named(str(j, "category"), "error", ""))] += num(j, "count");
    } else if (kind == "unobserved") {
      unobserved_nested_ += num(j, "nested_handlers");
      unobserved_vm_children_ += num(j, "memory_sharing_children");
    } else if (kind == "dropped") {
      dropped_ += num(j, "records");
    }
    // Other kinds (from a newer library) only tell that the process ran.
  }
}

void TreeSummary::totals(uint64_t count[sd::kCategoryCount], uint64_t injected[sd::kCategoryCount]) const {
  for (std::size_t c = 0; c < sd::kCategoryCount; ++c) {
    count[c] = unlisted_[c];
    injected[c] = 0;
  }
  for (const auto& [key, c] : counts_) {
    auto i = static_cast<std::size_t>(std::get<0>(key));
    count[i] += c.count;
    injected[i] += c.injected;
  }
}

void TreeSummary::print_text(std::FILE* out) const {
  uint64_t count[sd::kCategoryCount], injected[sd::kCategoryCount];
  totals(count, injected);
  char text[256];
  sd::format_category_totals(count, injected, text, sizeof(text));
  std::fprintf(out, "sockdiag summary: %s, reported by %zu process%s\n", text, pids_.size(),
               pids_.size() == 1 ? "" : "es");
  if (!counts_.empty()) {
    Table t({{"call", Table::left},
             {"code", Table::left},
             {"category", Table::left},
             {"count", Table::right},
             {"injected", Table::right},
             {"processes", Table::left}});
    // Failures first (the map's order), the biggest first within a category.
    std::vector<decltype(counts_)::const_iterator> rows;
    for (auto it = counts_.begin(); it != counts_.end(); ++it) rows.push_back(it);
    std::stable_sort(rows.begin(), rows.end(), [](auto a, auto b) {
      return std::get<0>(a->first) != std::get<0>(b->first) ? std::get<0>(a->first) < std::get<0>(b->first)
                                                            : a->second.count > b->second.count;
    });
    for (auto it : rows)
      t.add({std::get<1>(it->first), std::get<2>(it->first), sd::category_name(std::get<0>(it->first)),
             std::to_string(it->second.count), std::to_string(it->second.injected), join(it->second.processes, 4)});
    t.print(out, 2);
  }
  if (!retries_.empty()) {
    std::fprintf(out, "  retried by sockdiag:\n");
    Table t({{"call", Table::left}, {"code", Table::left}, {"retries", Table::right}});
    for (auto it : by_count_desc(
             retries_, +[](const uint64_t& n) { return n; }))
      t.add({std::get<0>(it->first), std::get<1>(it->first), std::to_string(it->second)});
    t.print(out, 4);
  }
  if (!peers_.empty()) {
    std::fprintf(out, "  failures by peer:\n");
    Table t({{"peer", Table::left}, {"failures", Table::right}});
    for (auto it : by_count_desc(
             peers_, +[](const uint64_t& n) { return n; }))
      t.add({it->first, std::to_string(it->second)});
    t.print(out, 4);
  }
  if (!rules_.empty()) {
    std::fprintf(out, "  injections by rule:\n");
    Table t({{"injected", Table::right}, {"rule", Table::left}});
    for (auto it : by_count_desc(
             rules_, +[](const uint64_t& n) { return n; }))
      t.add({std::to_string(it->second), it->first});
    t.print(out, 4);
  }
  for (std::size_t c = 0; c < sd::kCategoryCount; ++c)
    if (unlisted_[c])
      std::fprintf(out, "  (%llu of category %s, of kinds past the first %u of a process, are not itemised)\n",
                   static_cast<unsigned long long>(unlisted_[c]), sd::category_name(static_cast<sd::Category>(c)),
                   sd::ctab::kCountEntries);
  if (uint64_t n = unobserved_nested_ + unobserved_vm_children_)
    std::fprintf(out,
                 "  (%llu call%s not observed: %llu of signal handlers nested %u deep, %llu of children sharing "
                 "the process's memory (vfork, clone))\n",
                 static_cast<unsigned long long>(n), plural(n, "", "s"),
                 static_cast<unsigned long long>(unobserved_nested_), sd::kObservedDepth + 1,
                 static_cast<unsigned long long>(unobserved_vm_children_));
  if (dropped_)
    std::fprintf(out, "  (%llu record%s could not be written to the log)\n", static_cast<unsigned long long>(dropped_),
                 dropped_ == 1 ? "" : "s");
  for (const auto& [reason, processes] : private_)
    std::fprintf(out,
                 "  (%zu process%s counted apart, written at exit only (lost if killed by a signal or ended by "
                 "_exit), because %s: %s)\n",
                 processes.size(), processes.size() == 1 ? "" : "es", reason.c_str(), join(processes, 4).c_str());
  if (still_running_)
    std::fprintf(out, "  (processes of the tree were still running: their counts so far)\n");
  if (unreadable_)
    std::fprintf(out, "  (%llu summary line%s could not be read)\n", static_cast<unsigned long long>(unreadable_),
                 unreadable_ == 1 ? "" : "s");
  if (not_understood_)
    std::fprintf(out, "  (%llu line%s of strace's output not understood: no record was made of them)\n",
                 static_cast<unsigned long long>(not_understood_), plural(not_understood_, "", "s"));
}

void TreeSummary::print_json(std::FILE* out) const {
  nlohmann::json j = {{"v", sd::kRecordSchemaVersion}, {"summary", "tree"}, {"processes", pids_.size()}};
  uint64_t count[sd::kCategoryCount], injected[sd::kCategoryCount];
  totals(count, injected);
  nlohmann::json counts = nlohmann::json::array(), retries = nlohmann::json::array(), peers = nlohmann::json::array(),
                 rules = nlohmann::json::array(), categories = nlohmann::json::object(),
                 unlisted = nlohmann::json::object();
  for (std::size_t c = 0; c < sd::kCategoryCount; ++c) {
    const char* name = sd::category_name(static_cast<sd::Category>(c));
    categories[name] = {{"count", count[c]}, {"injected", injected[c]}};
    unlisted[name] = unlisted_[c];
  }
  for (const auto& [key, c] : counts_) {
    counts.push_back({{"call", std::get<1>(key)},
                      {"code", std::get<2>(key)},
                      {"category", sd::category_name(std::get<0>(key))},
                      {"count", c.count},
                      {"injected", c.injected},
                      {"level", c.level},
                      {"processes", c.processes}});
  }
  for (const auto& [key, n] : retries_)
    retries.push_back({{"call", std::get<0>(key)}, {"code", std::get<1>(key)}, {"count", n}});
  for (const auto& [peer, n] : peers_) peers.push_back({{"peer", peer}, {"failures", n}});
  for (const auto& [rule, n] : rules_) rules.push_back({{"rule", rule}, {"injected", n}});
  // "failures" and "injected": the failure category alone, as the heading says.
  j["failures"] = count[static_cast<std::size_t>(sd::Category::failure)];
  j["injected"] = injected[static_cast<std::size_t>(sd::Category::failure)];
  j["categories"] = categories;
  j["counts"] = counts;
  j["retries"] = retries;
  j["peers"] = peers;
  j["rules"] = rules;
  j["unreadable_lines"] = unreadable_;
  j["strace_lines_not_understood"] = not_understood_;
  j["unlisted"] = unlisted;
  j["unobserved"] = {{"nested_handlers", unobserved_nested_}, {"memory_sharing_children", unobserved_vm_children_}};
  j["records_dropped"] = dropped_;
  nlohmann::json priv = nlohmann::json::array();
  for (const auto& [reason, processes] : private_) priv.push_back({{"reason", reason}, {"processes", processes}});
  j["counted_at_exit_only"] = priv;
  j["still_running"] = still_running_;
  // Program names and unix paths are bytes, not always UTF-8: replaced
  // (U+FFFD) where they are not, as records do, never thrown at.
  std::fprintf(out, "%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace sdcli
