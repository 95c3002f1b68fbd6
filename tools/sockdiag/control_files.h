// `sockdiag ctl`'s side of the control files (shim/core/control_file.h):
// finding the processes it may control, reading the rules in force and
// their counters, and publishing a new rule set or a pause.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control_file.h"
#include "rules.h"

namespace sdcli {

// The rules in force in a file (the active buffer), in normal form, one a
// rule. Empty when the buffer holds no valid image.
std::vector<std::string> rules_in_file(const sd::ctlfile::File& f);

// The counters of the rule in force number i (from 0), when the library
// shares them for that set: false otherwise.
bool rule_counts(const sd::ctlfile::File& f, uint32_t i, uint64_t* seen, uint64_t* injected);
// The injections of rule `i` (0-based) of the set in force, by call and
// peer, most first; empty where its counts are not in the file.
struct TallyRow {
  std::string call, peer;
  uint64_t injected = 0;
};
std::vector<TallyRow> rule_tally(const sd::ctlfile::File& f, uint32_t i);

// Why the process of `f` cannot take `set` in (one line), or "": too many
// sets taken in already, or too many rules for the file.
std::string cannot_take(const sd::ctlfile::File& f, const sd::RuleSet& set);

// Writes `set` as the process's new rules: its image into the buffer not in
// force, then `active`, then the generation (the library takes it in at its
// next call). The caller holds the file's lock. An error line, or "".
std::string publish_rules(sd::ctlfile::File& f, const sd::RuleSet& set);
// Pause (true) or resume: the flag, then the generation.
void publish_paused(sd::ctlfile::File& f, bool paused);

// A process's control file, mapped and locked (flock) for as long as this
// lives.
class ControlledProcess {
 public:
  ControlledProcess(ControlledProcess&&) noexcept;
  ControlledProcess& operator=(ControlledProcess&&) noexcept;
  ~ControlledProcess();
  // Opens DIR/NAME: a regular file of this user (or any, for root), never
  // through a link, of this build. nullopt when it is not one, with *why.
  static std::optional<ControlledProcess> open(int dir_fd, const std::string& name, std::string* why);
  sd::ctlfile::File& file() { return *file_; }
  int pid() const { return file_->header.pid; }

 private:
  ControlledProcess() = default;
  int fd_ = -1;
  sd::ctlfile::File* file_ = nullptr;
};

// Which processes: one pid, or every process of the `sockdiag run` whose
// pid is `run`, or all (neither given).
struct Selection {
  std::optional<int> pid;
  std::optional<uint64_t> run;
};

// The processes of the selection that are alive, locked, in pid order. The
// files of processes that ended (or whose pid another process now has) are
// removed on the way. `dirs`: the directories to look in.
std::vector<ControlledProcess> find_processes(const std::vector<std::string>& dirs, const Selection& sel,
                                              std::string* problems);

// The run files (control_file.h) of the selection's runs, alive, locked, in
// pid order: none for --pid, the run's for --run, all without either.
// Locked before the processes (find_processes), so that a process starting
// meanwhile takes the run's new set or is found by find_processes.
std::vector<ControlledProcess> find_runs(const std::vector<std::string>& dirs, const Selection& sel,
                                         std::string* problems);

// The directories `sockdiag ctl` looks in: the user's own; for root, also
// those of the owner of --pid.
std::vector<std::string> control_dirs(const Selection& sel);

}  // namespace sdcli
