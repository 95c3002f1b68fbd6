// What `sockdiag report` knows about a set of JSON record files: records
// counted by category (count_category.h: failures, events, expected flow,
// injection notices, from each record's level), failures grouped by peer and
// by process, every record by call and code, and injected ones apart.
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "count_category.h"

namespace sdcli {

struct Group {
  uint64_t count = 0;
  std::string first, last;                // timestamps as written (ISO 8601, UTC: they sort as text)
  std::map<std::string, uint64_t> codes;  // code -> count, for the peer and process views
  std::set<std::string> peers;            // for the call/code view
};

// What one line of a log was, for a reader that wants every record
// (report_html.h): "ok" (a trace record of a call that succeeded), "summary"
// (a process's exit summary), "retry" (a notice of one retry by sockdiag), or
// the record's category (count_category.h).
struct LineRecord {
  const nlohmann::json& record;
  const char* kind;
  std::string source;  // "FILE:LINE"
};

// Where a failure went, as the reports group it: the peer, with the name the
// program looked up when it was not the address itself; the host alone
// without a peer; "(no peer)" without either.
std::string peer_label(const std::string& peer, const std::string& host);

class RecordStats {
 public:
  // Reads one file's lines; `name` is used in the list of unreadable lines.
  void read(std::istream& in, const std::string& name);

  // Called for every line read as a JSON record, counted or skipped.
  std::function<void(const LineRecord&)> on_record;

  uint64_t records = 0;        // records of failed calls (and injection notices), counted below
  uint64_t injected = 0;       // of which injected
  uint64_t category[sd::kCategoryCount] = {};           // records by category
  uint64_t category_injected[sd::kCategoryCount] = {};  // of which injected
  uint64_t retry_notices = 0;  // notices of one retry by sockdiag (counted as retries, not outcomes)
  uint64_t summary_lines = 0;  // exit-summary lines, skipped
  uint64_t success_lines = 0;  // trace records of calls that succeeded, skipped
  uint64_t text_lines = 0;     // lines of a text-format log
  uint64_t unreadable = 0;
  std::vector<std::string> unreadable_at;  // "FILE:LINE" of the first few
  std::string first, last;
  std::set<long> pids;

  std::map<std::string, Group> by_peer;                                        // failures: peer (or host, or "(none)")
  std::map<std::tuple<sd::Category, std::string, std::string>, Group> by_call;  // (category, call, code)
  std::map<std::string, Group> by_process;                                     // failures: "prog[pid]"
  std::map<std::tuple<std::string, std::string, std::string>, Group> by_rule;  // (rule, call, code)

 private:
  void add(Group& g, const std::string& ts, const std::string& code, const std::string& peer);
};

}  // namespace sdcli
