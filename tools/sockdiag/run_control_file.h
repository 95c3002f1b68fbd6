// The run file of a `sockdiag run` (shim/core/control_file.h): made before
// CMD starts, holding the rules its processes start with, so that a change
// `sockdiag ctl --run` makes reaches the processes started after it too;
// removed when the run ends.
#pragma once
#include <string>

#include "rules.h"

namespace sdcli {

class RunControlFile {
 public:
  // Makes DIR/PID.run (PID: this process) with `rules` (nullptr: none) as
  // the set in force. On failure nothing is made and why() says why.
  explicit RunControlFile(const sd::RuleSet* rules);
  ~RunControlFile();
  RunControlFile(const RunControlFile&) = delete;
  RunControlFile& operator=(const RunControlFile&) = delete;
  bool made() const { return !path_.empty(); }
  const std::string& why() const { return why_; }

 private:
  std::string path_;
  std::string why_;
};

}  // namespace sdcli
