// Turning CLI11's diagnostics into one-line messages (see usage.h).
#include "usage.h"

#include <CLI/CLI.hpp>

#include <map>
#include <regex>

#include "escape.h"
#include "nearest.h"
#include "text.h"

namespace sdcli {

void reject_extras(const CLI::App& sub, const std::vector<std::string>& all) {
  // CLI11 keeps the "--" that ends the options among the extras.
  std::vector<std::string> extras;
  for (const std::string& w : all)
    if (w != "--") extras.push_back(w);
  if (extras.empty()) return;
  const std::string& word = extras.front();
  if (word.size() < 2 || word[0] != '-') throw UsageError("unexpected argument " + sd::quoted(word));
  std::string name = word.substr(0, word.find('='));
  std::vector<std::string> known;
  for (const CLI::Option* opt : sub.get_options()) {
    for (const std::string& l : opt->get_lnames()) known.push_back("--" + l);
    for (const std::string& s : opt->get_snames()) known.push_back("-" + s);
  }
  std::vector<const char*> words;
  for (const std::string& k : known) words.push_back(k.c_str());
  std::string msg = "unknown option " + sd::quoted(name);
  if (const char* near = sd::nearest_word(name, words.data(), words.size()))
    msg += std::string(" (did you mean ") + near + "?)";
  throw UsageError(msg + "; see 'sockdiag " + sub.get_name() + " --help'");
}

namespace {

std::map<const CLI::App*, std::string>& usage_lines() {
  static std::map<const CLI::App*, std::string> lines;
  return lines;
}

constexpr int kHelpWidth = 80;
constexpr int kHelpColumn = 28;

// `text` broken into lines of `width` columns, joined by '\n' (CLI11 indents
// what follows each '\n' to the description column). Lines that start with a
// blank (examples) are kept as written.
std::string wrap_lines(const std::string& text, int width) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    std::string wrapped = line.empty() || line[0] == ' ' ? line + "\n" : wrap(line, 0, width);
    out += wrapped.empty() ? "\n" : wrapped;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

class Formatter : public CLI::Formatter {
 public:
  Formatter() {
    column_width(kHelpColumn);
    label("Positionals", "Arguments");
  }
  std::string make_usage(const CLI::App* app, std::string name) const override {
    auto it = usage_lines().find(app);
    if (it == usage_lines().end()) return CLI::Formatter::make_usage(app, std::move(name));
    return "Usage: " + it->second + "\n";
  }
  std::string make_description(const CLI::App* app) const override {
    return app->get_description().empty() ? "" : wrap_lines(app->get_description(), kHelpWidth) + "\n\n";
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    return wrap_lines(opt->get_description(), kHelpWidth - kHelpColumn);
  }
  std::string make_subcommand(const CLI::App* sub) const override {
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(), wrap_lines(sub->get_description(), kHelpWidth - kHelpColumn),
                             column_width_);
    return out.str();
  }
  std::string make_footer(const CLI::App* app) const override {
    return app->get_footer().empty() ? "" : wrap_lines(app->get_footer(), kHelpWidth) + "\n";
  }
};

}  // namespace

void set_usage(const CLI::App* app, std::string text) { usage_lines()[app] = std::move(text); }

std::shared_ptr<CLI::FormatterBase> make_formatter() { return std::make_shared<Formatter>(); }

std::string describe_parse_error(const CLI::ParseError& e) {
  std::string what = e.what();
  // "--level: 1 required TEXT missing"
  static const std::regex missing(R"(^(\S+): \d+ required \S+ missing$)");
  std::smatch m;
  if (std::regex_match(what, m, missing)) return "option " + m[1].str() + " needs a value";
  return what;
}

}  // namespace sdcli
