// `sockdiag check`: validates settings and rules with the library's own
// parser and prints them back in normal form, as a settings file that
// --config (SOCKDIAG_CONFIG) accepts.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "escape.h"
#include "explain.h"
#include "rules.h"
#include "strace_rules.h"
#include "usage.h"

extern char** environ;

namespace sdcli {

namespace {

const char* const kRetryNames[sd::retry_err_count] = {"eintr", "eagain", "econnaborted"};

// "eintr@connect+recv, eagain@recv": every call listed, so that the normal
// form does not depend on a default set.
std::string retry_text(const sd::Config& c) {
  std::string out;
  for (int e = 0; e < sd::retry_err_count; ++e) {
    if (!c.retry_calls[e]) continue;
    std::string calls;
    for (unsigned cls = 0; cls < 32; ++cls)
      if (c.retry_calls[e] & (1u << cls))
        calls += (calls.empty() ? "" : "+") + std::string(sd::call_class_name(static_cast<sd::CallClass>(cls)));
    out += (out.empty() ? "" : ",") + std::string(kRetryNames[e]) + "@" + calls;
  }
  return out;
}

void print_config(const sd::Config& c) {
  std::printf("# sockdiag settings, checked; usable as --config FILE or SOCKDIAG_CONFIG\n");
  std::printf("log = %s\n", c.log);
  std::printf("format = %s\n", c.format == sd::Format::json ? "json" : "text");
  std::printf("level = %s\n", sd::level_name(c.level));
  std::printf("summary = %s\n", c.summary_path[0] ? c.summary_path : c.summary ? "yes" : "no");
  std::string retry = retry_text(c);
  if (retry.empty())
    std::printf("# retry: nothing is retried\n");
  else
    std::printf("retry = %s\n", retry.c_str());
  std::printf("retry_timeout_ms = %u\n", c.retry_timeout_ms);
  std::printf("retry_max = %u\n", c.retry_max);
  std::printf("sigpipe = %s\n", c.sigpipe == sd::SigpipeMode::keep ? "keep" : "ignore");
  std::printf("seccomp = %s\n", c.seccomp == sd::SeccompMode::keep ? "keep" : "standdown");
  if (c.seed_set)
    std::printf("seed = %llu\n", static_cast<unsigned long long>(c.seed));
  else
    std::printf("# seed: none; with prob= rules, sockdiag run draws one for the whole run (printed at level info)\n");
  if (!c.rules || c.rules->count == 0) {
    std::printf("# inject: no rules\n");
    return;
  }
  std::string rules = sd::format_rules(*c.rules);
  std::size_t pos = 0;
  while (pos < rules.size()) {
    std::size_t nl = rules.find('\n', pos);
    std::string line = rules.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty()) std::printf("inject = %s\n", line.c_str());
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
}

// What each rule becomes under `--engine strace`, as comments, so that the
// output stays a settings file.
void print_strace_mappings(const std::vector<RuleMapping>& mappings, bool multithreaded) {
  if (mappings.empty()) return;
  std::printf("# under the strace engine (tools/INJECT.md, \"Under the strace engine\"):\n");
  for (const RuleMapping& m : mappings) {
    std::printf("# %s: %s\n", mapping_name(m.mapping), m.rule.c_str());
    if (!m.inject.empty()) std::printf("#   -e inject=%s\n", m.inject.c_str());
    if (!m.reason.empty()) std::printf("#   %s\n", m.reason.c_str());
  }
  if (counts_calls(mappings) && !multithreaded) std::printf("# note: %s\n", kPerThreadCounts);
}

}  // namespace

Command add_check(CLI::App& root) {
  struct CheckOptions {
    SettingOptions settings;
    std::string engine = "preload";
    bool multithreaded = false;
  };
  auto opts = std::make_shared<CheckOptions>();
  CLI::App* sub = root.add_subcommand("check",
                                      "Check settings and injection rules (options, SOCKDIAG_ variables "
                                      "and the --config file together) and print them in normal form.");
  set_usage(sub, "sockdiag check [--inject RULE]... [--config FILE] [--engine preload|strace] [OPTIONS]");
  add_setting_options(*sub, opts->settings);
  sub->add_option("--engine", opts->engine,
                  "preload (default): the library's rules; strace: also say what strace makes of each rule")
      ->type_name("preload|strace");
  sub->add_flag("--multithreaded", opts->multithreaded,
                "With --engine strace: the program runs several threads (every Go program does)");
  sub->allow_extras();
  sub->footer(
      "The output is itself a settings file for --config. The check is the library's own: what passes "
      "here is what a program started by 'sockdiag run' gets.\n\n"
      "With --engine strace, comments after the rules say for each one whether strace (sockdiag run "
      "--engine strace) carries it exactly, approximately or not at all, why, and the strace -e inject "
      "argument it becomes.\n\n"
      "Exit status: 0 when everything is valid; 2 otherwise, with one line saying what is wrong, where, and "
      "what is accepted (with --engine strace, also when strace cannot carry a rule: one line per such rule, "
      "as 'sockdiag run --engine strace' refuses them).");
  auto action = [sub, opts]() {
    reject_extras(*sub, sub->remaining());
    if (opts->engine != "preload" && opts->engine != "strace")
      throw UsageError("--engine " + sd::quoted(opts->engine) + " is not an engine; accepted: preload, strace");
    if (opts->multithreaded && opts->engine != "strace")
      throw UsageError("--multithreaded goes with --engine strace");
    Settings settings(opts->settings, environ);
    sd::Config config = settings.validate();
    print_config(config);
    int status = 0;
    if (opts->engine == "strace") {
      std::vector<RuleMapping> mappings = map_rules(config.rules, opts->multithreaded);
      print_strace_mappings(mappings, opts->multithreaded);
      for (const std::string& line : refusal_lines(mappings)) std::fprintf(stderr, "sockdiag check: %s\n", line.c_str());
      if (!all_mappable(mappings)) status = kUsageStatus;
    }
    if (config.rules) sd::free_rules(const_cast<sd::RuleSet*>(config.rules));
    return status;
  };
  return {sub, action};
}

}  // namespace sdcli
