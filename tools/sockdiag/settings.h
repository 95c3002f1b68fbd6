// The library's settings as command-line options, and their validation.
// The command never judges a value itself: it builds the variables the
// library will see and asks the library's own parser (sd::parse_config), so
// that the two can never disagree.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.h"

namespace CLI {
class App;
}

namespace sdcli {

// Variable read by the library when `--no-follow-children` is given: it
// takes itself out of LD_PRELOAD before main, so exec'd programs do not load
// it, and stays silent in forked children.
inline constexpr const char* kFollowChildrenVariable = "SOCKDIAG_FOLLOW_CHILDREN";

struct SettingOptions {
  std::optional<std::string> log, format, level, retry, retry_timeout_ms, retry_max, sigpipe, seccomp, config, seed;
  std::vector<std::string> inject;
};

// Adds --log, --format, --level, --retry, --retry-timeout-ms, --retry-max,
// --sigpipe, --seccomp, --inject (repeatable), --config and --seed to `sub`.
void add_setting_options(CLI::App& sub, SettingOptions& options);

// The SOCKDIAG_* variables of a run: those of the environment, overridden by
// the options. Remembers which option set which variable, for messages.
class Settings {
 public:
  Settings(const SettingOptions& options, char** environ);
  void set(const std::string& variable, const std::string& value, const std::string& option);
  const std::map<std::string, std::string>& variables() const { return vars_; }
  // How a message names the setting of `variable`: the option that set it,
  // the variable, or `key` in the SOCKDIAG_CONFIG file.
  std::string name_of(const std::string& variable, const char* key) const;

  // Parses everything with the library's parser; on an error throws
  // UsageError with the library's message, in terms of the options used.
  // Each --inject rule is parsed on its own first, so that an error points
  // into the rule as the user typed it.
  sd::Config validate() const;
  // The checks the library makes before main of where records go (see
  // shim/preload/destination.h), made before CMD starts: a --log that cannot work
  // is this command's error. A FIFO passes: opening it here to look for a
  // reader would end that reader's input when it is closed again.
  void check_destinations(const sd::Config& config) const;

 private:
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::string> option_of_;  // variable -> option that set it
  std::vector<std::string> rules_;                // the --inject rules, one each
};

}  // namespace sdcli
