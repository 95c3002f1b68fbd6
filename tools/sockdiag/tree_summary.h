// The summary of a whole process tree: `sockdiag run --summary` points
// SOCKDIAG_SUMMARY at one file, every process of the tree appends its own
// counts to it as JSON lines at exit, and this adds them up.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace sdcli {

class TreeSummary {
 public:
  // Reads the lines of `path`; lines that are not JSON objects are counted,
  // kinds of line this version does not know are skipped.
  void read_file(const std::string& path);
  // A table on `out` (text) or one JSON object on one line.
  void print_text(std::FILE* out) const;
  void print_json(std::FILE* out) const;

 private:
  struct Count {
    uint64_t count = 0, injected = 0;
    std::string level;
    std::set<std::string> processes;  // "prog[pid]"
  };
  std::map<std::tuple<std::string, std::string>, Count> counts_;  // (call, code)
  std::map<std::tuple<std::string, std::string>, uint64_t> retries_;
  std::map<std::string, uint64_t> peers_;
  std::map<std::string, uint64_t> rules_;  // injections per rule, summed over the processes
  std::set<long> pids_;
  uint64_t unreadable_ = 0;
};

}  // namespace sdcli
