// Bad input on the command line: every subcommand reports it the same way,
// with one line that says what was wrong and what is accepted, and status 2.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
class FormatterBase;
class ParseError;
}  // namespace CLI

namespace sdcli {

constexpr int kUsageStatus = 2;

// Thrown by a subcommand for bad input; main prints "sockdiag SUB: WHAT".
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// CLI11 leaves unknown options and stray words in `remaining` (allow_extras):
// refuses them here, naming the closest known option.
void reject_extras(const CLI::App& sub, const std::vector<std::string>& extras);

// --help shows `text` as the usage line of `app` ("sockdiag run [OPTIONS] --
// CMD [ARGS...]") instead of the one CLI11 derives from the options.
void set_usage(const CLI::App* app, std::string text);
// The help formatter that knows these usage lines; set on the root app
// before the subcommands are added (they copy it).
std::shared_ptr<CLI::FormatterBase> make_formatter();

// One line for a CLI11 parse error, in the words of this program.
std::string describe_parse_error(const CLI::ParseError& e);

}  // namespace sdcli
