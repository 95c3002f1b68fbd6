// The subcommands. Each adds itself to the root CLI11 app and returns the
// action main runs once the command line has been parsed.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "settings.h"

namespace CLI {
class App;
}

namespace sdcli {

struct Command {
  CLI::App* app;
  std::function<int()> action;  // returns the exit status
};

// CMD and its arguments: the words after the first "--" of `sockdiag run`.
// CLI11 never sees them, so no option of CMD is mistaken for one of ours.
struct CommandTail {
  bool present = false;
  std::vector<std::string> words;
};

struct RunOptions {
  SettingOptions settings;
  bool summary = false;
  bool follow_children = true;
  // `sockdiag ctl --run PID` may change the rules of the tree (SOCKDIAG_CONTROL=run:PID).
  bool control = true;
  std::string engine = "auto";  // auto, preload or strace (strace_engine.h)
  // --replay FILE: the faults of that run's JSON log, instead of the rules.
  std::string replay;
  std::vector<std::string> cmd;
};
// `sockdiag run`, also used by `sockdiag demo`.
int run_command(const RunOptions& options);

Command add_run(CLI::App& root, const CommandTail* tail);
Command add_explain(CLI::App& root);
Command add_report(CLI::App& root);
Command add_check(CLI::App& root);
Command add_doctor(CLI::App& root);
Command add_libpath(CLI::App& root);
Command add_demo(CLI::App& root);
Command add_ctl(CLI::App& root);
Command add_collect(CLI::App& root);

}  // namespace sdcli
