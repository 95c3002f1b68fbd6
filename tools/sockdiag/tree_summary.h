// The summary of a whole process tree, added up from what `sockdiag run
// --summary` gave the tree: the counter table shared with every process
// (counter_table.h), read when the tree has ended, and the file
// (SOCKDIAG_SUMMARY) where a process that could not share it appends its own
// counts as JSON lines at exit.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "count_category.h"
#include "counter_table.h"

namespace sd {
struct RuleSet;
}

namespace sdcli {

class TreeSummary {
 public:
  // Reads the lines of `path`; lines that are not JSON objects are counted,
  // kinds of line this version does not know are skipped.
  void read_file(const std::string& path);
  // Adds up the slots of the shared table. `rules`: the run's own rules (or
  // nullptr), listed even where nothing matched, and naming the injection
  // counts of every process that had the same rules.
  void read_table(const sd::ctab::Table& table, const sd::RuleSet* rules);
  // One outcome the strace engine read (trace_reader.h), counted as the
  // library counts into the table: by call and code, and per peer for the
  // failures of error level. `peer`: "" when none.
  // `rule`: the injection rule that made it, "" for none.
  void add_outcome(const std::string& process, long pid, const std::string& call, sd::CodeKind code_kind, int code,
                   sd::Level level, const std::string& rule, const std::string& peer);
  // A rule of the run, listed even where it injected nothing.
  void add_rule(const std::string& rule) { rules_[rule] += 0; }
  // Lines of strace's output the engine did not understand: no record came of them.
  void add_not_understood(uint64_t lines) { not_understood_ += lines; }
  // Records lost on their way to the log after the processes wrote them
  // (sockdiag run's --log sink did not take them in time).
  void add_dropped(uint64_t records) { dropped_ += records; }
  // The tree still had processes running when the counts were read.
  void set_still_running() { still_running_ = true; }
  // A table on `out` (text) or one JSON object on one line.
  void print_text(std::FILE* out) const;
  void print_json(std::FILE* out) const;

 private:
  struct Count {
    uint64_t count = 0, injected = 0;
    std::string level;
    std::set<std::string> processes;  // "prog[pid]"
  };
  // (category, call, code): failures first. The category is the one of the
  // records' level (count_category.h).
  std::map<std::tuple<sd::Category, std::string, std::string>, Count> counts_;
  std::map<std::tuple<std::string, std::string>, uint64_t> retries_;
  std::map<std::string, uint64_t> peers_;
  std::map<std::string, uint64_t> rules_;  // injections per rule, summed over the processes
  std::set<long> pids_;
  std::map<std::string, std::set<std::string>> private_;  // reason -> "prog[pid]": counted at their exit only
  uint64_t unlisted_[sd::kCategoryCount] = {};  // outcomes of kinds past a process's kCountEntries
  uint64_t unobserved_nested_ = 0, unobserved_vm_children_ = 0;  // calls that passed through unrecorded
  uint64_t dropped_ = 0;   // records the processes' logs, or run's --log sink, could not take
  uint64_t unreadable_ = 0;
  uint64_t not_understood_ = 0;
  bool still_running_ = false;

  void add_count(sd::Category category, const std::string& call, const std::string& code, uint64_t count,
                 uint64_t injected, const std::string& level, const std::string& process);
  // Counts and injected ones by category, unlisted ones included.
  void totals(uint64_t count[sd::kCategoryCount], uint64_t injected[sd::kCategoryCount]) const;
};

}  // namespace sdcli
