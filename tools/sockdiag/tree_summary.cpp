#include "tree_summary.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

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

}  // namespace

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
    if (pid) pids_.insert(pid);
    if (kind == "count") {
      Count& c = counts_[{str(j, "call"), str(j, "code")}];
      c.count += num(j, "count");
      c.injected += num(j, "injected");
      c.level = str(j, "level");
      c.processes.insert(str(j, "prog") + "[" + std::to_string(pid) + "]");
    } else if (kind == "retry") {
      retries_[{str(j, "call"), str(j, "code")}] += num(j, "count");
    } else if (kind == "peer") {
      peers_[str(j, "peer")] += num(j, "failures");
    } else if (kind == "inject") {
      rules_[str(j, "rule")] += num(j, "count");  // every rule, matched or not
    }
    // Other kinds (from a newer library) only tell that the process ran.
  }
}

void TreeSummary::print_text(std::FILE* out) const {
  uint64_t failures = 0, injected = 0;
  for (const auto& kv : counts_) {
    failures += kv.second.count;
    injected += kv.second.injected;
  }
  std::fprintf(out, "sockdiag summary: %llu failure%s (%llu injected), reported by %zu process%s\n",
               static_cast<unsigned long long>(failures), failures == 1 ? "" : "s",
               static_cast<unsigned long long>(injected), pids_.size(), pids_.size() == 1 ? "" : "es");
  if (!counts_.empty()) {
    Table t({{"call", Table::left},
             {"code", Table::left},
             {"count", Table::right},
             {"injected", Table::right},
             {"level", Table::left},
             {"processes", Table::left}});
    for (auto it : by_count_desc(
             counts_, +[](const Count& c) { return c.count; }))
      t.add({std::get<0>(it->first), std::get<1>(it->first), std::to_string(it->second.count),
             std::to_string(it->second.injected), it->second.level, join(it->second.processes, 4)});
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
  if (unreadable_)
    std::fprintf(out, "  (%llu summary line%s could not be read)\n", static_cast<unsigned long long>(unreadable_),
                 unreadable_ == 1 ? "" : "s");
}

void TreeSummary::print_json(std::FILE* out) const {
  nlohmann::json j = {{"summary", "tree"}, {"processes", pids_.size()}};
  uint64_t failures = 0, injected = 0;
  nlohmann::json counts = nlohmann::json::array(), retries = nlohmann::json::array(), peers = nlohmann::json::array(),
                 rules = nlohmann::json::array();
  for (const auto& [key, c] : counts_) {
    failures += c.count;
    injected += c.injected;
    counts.push_back({{"call", std::get<0>(key)},
                      {"code", std::get<1>(key)},
                      {"count", c.count},
                      {"injected", c.injected},
                      {"level", c.level},
                      {"processes", c.processes}});
  }
  for (const auto& [key, n] : retries_)
    retries.push_back({{"call", std::get<0>(key)}, {"code", std::get<1>(key)}, {"count", n}});
  for (const auto& [peer, n] : peers_) peers.push_back({{"peer", peer}, {"failures", n}});
  for (const auto& [rule, n] : rules_) rules.push_back({{"rule", rule}, {"injected", n}});
  j["failures"] = failures;
  j["injected"] = injected;
  j["counts"] = counts;
  j["retries"] = retries;
  j["peers"] = peers;
  j["rules"] = rules;
  j["unreadable_lines"] = unreadable_;
  std::fprintf(out, "%s\n", j.dump().c_str());
}

}  // namespace sdcli
