#include "record_stats.h"

#include <nlohmann/json.hpp>

namespace sdcli {

namespace {

constexpr std::size_t kListedUnreadable = 5;

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The record's category, from its level and code (count_category.h).
sd::Category category_of_record(const std::string& level, const std::string& code) {
  sd::CodeKind d = sd::CodeKind::errno_code;
  int n = 0;
  sd::code_from_name(code, &d, &n);
  sd::Level l = sd::Level::error;  // a record without a level known here: taken for a failure
  for (int i = 0; i <= static_cast<int>(sd::Level::trace); ++i)
    if (level == sd::level_name(static_cast<sd::Level>(i))) l = static_cast<sd::Level>(i);
  return sd::category_of(d, n, l);
}

}  // namespace

std::string peer_label(const std::string& peer, const std::string& host) {
  if (peer.empty()) return !host.empty() ? host : "(no peer)";
  // The name the program looked up, unless it was the address itself.
  bool host_is_address = peer.rfind(host + ":", 0) == 0 || peer.rfind("[" + host + "]:", 0) == 0;
  return host.empty() || host_is_address ? peer : peer + " (" + host + ")";
}

void RecordStats::add(Group& g, const std::string& ts, const std::string& code, const std::string& peer) {
  ++g.count;
  if (!ts.empty() && (g.first.empty() || ts < g.first)) g.first = ts;
  if (ts > g.last) g.last = ts;
  ++g.codes[code];
  if (!peer.empty()) g.peers.insert(peer);
}

void RecordStats::read(std::istream& in, const std::string& name) {
  std::string line;
  uint64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    // The library's text format: a hint for the user, not an error.
    if (line.rfind("sockdiag ", 0) == 0) {
      ++text_lines;
      continue;
    }
    // The last line of a file still being written, or a line some other
    // writer put in the file, does not parse (the library never cuts a JSON
    // record: it clips the values instead).
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++unreadable;
      // eof here: the line had no newline, the writer stopped in the middle.
      if (unreadable_at.size() < kListedUnreadable)
        unreadable_at.push_back(name + ":" + std::to_string(lineno) + (in.eof() ? " (cut short)" : ""));
      continue;
    }
    auto pass = [&](const char* kind) {
      if (on_record) on_record({j, kind, name + ":" + std::to_string(lineno)});
    };
    if (j.contains("summary")) {
      pass("summary");
      ++summary_lines;
      continue;
    }
    std::string code = str(j, "code");
    if (code.empty()) {
      pass("ok");
      ++success_lines;
      continue;
    }
    std::string ts = str(j, "ts"), call = str(j, "call"), peer = str(j, "peer"), host = str(j, "host");
    std::string prog = str(j, "prog");
    long pid = j.contains("pid") && j["pid"].is_number_integer() ? j["pid"].get<long>() : 0;
    bool is_injected = j.contains("injected") && j["injected"].is_boolean() && j["injected"].get<bool>();
    // A retry's notice: the summary counts it as a retry, not as an outcome.
    if (j.contains("retrying") && j["retrying"].is_boolean() && j["retrying"].get<bool>()) {
      pass("retry");
      ++retry_notices;
      continue;
    }
    sd::Category cat = category_of_record(str(j, "level"), code);
    pass(sd::category_name(cat));
    auto ci = static_cast<std::size_t>(cat);
    ++category[ci];
    if (is_injected) ++category_injected[ci];

    ++records;
    pids.insert(pid);
    if (!ts.empty() && (first.empty() || ts < first)) first = ts;
    if (ts > last) last = ts;
    if (is_injected) {
      ++injected;
      add(by_rule[{str(j, "rule"), call, code}], ts, code, peer);
      continue;
    }
    std::string where = peer_label(peer, host);
    add(by_call[{cat, call, code}], ts, code, peer);
    // Peers and processes that failed: not the expected flow of a debug log.
    if (cat != sd::Category::failure) continue;
    add(by_peer[where], ts, code, peer);
    add(by_process[prog + "[" + std::to_string(pid) + "]"], ts, code, peer);
  }
}

}  // namespace sdcli
