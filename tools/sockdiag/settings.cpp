#include "settings.h"

#include <CLI/CLI.hpp>

#include <cstring>

#include "destination.h"
#include "escape.h"
#include "rules.h"
#include "text.h"
#include "log_sink.h"
#include "usage.h"

namespace sdcli {

void add_setting_options(CLI::App& sub, SettingOptions& o) {
  const char* g = "Settings (each overrides the SOCKDIAG_ variable of the same name)";
  sub.add_option("-o,--log", o.log,
                 "Where records go: 'stderr' (default) or a file, appended to; '%p' in the name becomes the "
                 "process id (one file per process). With `run`, also a sink of the command: journald (fields "
                 "SOCKDIAG_CODE, SOCKDIAG_PEER...), syslog[:FACILITY[:IDENT]] (default user, sockdiag), "
                 "rotate:PATH[:SIZE[:COUNT]] (default 10M and 5 files), daily:PATH, terminal (coloured by level); "
                 "unix:/PATH sends each record to `sockdiag collect`. [SOCKDIAG_LOG]")
      ->type_name("WHERE")
      ->group(g);
  sub.add_option("--format", o.format, "Record format: text (default) or json, one object per line. [SOCKDIAG_FORMAT]")
      ->type_name("text|json")
      ->group(g);
  sub.add_option("--level", o.level,
                 "Which records are written: off, error (default: failures that need attention), info "
                 "(also retries and closed connections), debug (also expected flow such as EAGAIN), "
                 "trace (every intercepted call). [SOCKDIAG_LEVEL]")
      ->type_name("LEVEL")
      ->group(g);
  sub.add_option("--retry", o.retry,
                 "Errors the library retries for the program: a comma list of eintr, eagain, econnaborted, "
                 "each optionally limited to calls, e.g. 'eintr,eagain@recv+send'. Default: none. [SOCKDIAG_RETRY]")
      ->type_name("LIST")
      ->group(g);
  const sd::Config defaults;
  sub.add_option("--retry-timeout-ms", o.retry_timeout_ms,
                 "Longest time one call may wait for readiness before EAGAIN is given to the program, in ms "
                 "(default " +
                     std::to_string(defaults.retry_timeout_ms) + "). [SOCKDIAG_RETRY_TIMEOUT_MS]")
      ->type_name("MS")
      ->group(g);
  sub.add_option("--retry-max", o.retry_max,
                 "Most retries of one call; 0 means no bound (default " + std::to_string(defaults.retry_max) +
                     "). [SOCKDIAG_RETRY_MAX]")
      ->type_name("N")
      ->group(g);
  sub.add_option("--sigpipe", o.sigpipe,
                 "ignore (default): a write to a socket whose peer is gone returns EPIPE instead of killing "
                 "the program; keep: SIGPIPE is delivered as usual, after the record is written. Pipes keep "
                 "their SIGPIPE either way. [SOCKDIAG_SIGPIPE]")
      ->type_name("ignore|keep")
      ->group(g);
  sub.add_option("--seccomp", o.seccomp,
                 "standdown (default): in a process under a seccomp filter (one it installs, or inherits across "
                 "exec) the library passes every call through untouched and records nothing, since the filter "
                 "may kill the process for a call the library adds; keep: the library stays on, for a filter "
                 "known to allow its calls (systemd's @system-service set does). [SOCKDIAG_SECCOMP]")
      ->type_name("standdown|keep")
      ->group(g);
  sub.add_option("-i,--inject", o.inject,
                 "A fault-injection rule, e.g. 'connect:error=ECONNREFUSED:port=5432:nth=1..3' (repeatable; "
                 "rules are tried in order, the first that matches applies). See sockdiag(1). [SOCKDIAG_INJECT]")
      ->type_name("RULE")
      ->allow_extra_args(false)
      ->group(g);
  sub.add_option("--config", o.config,
                 "A settings file: 'key = value' lines (log, format, level, summary, retry, retry_timeout_ms, "
                 "retry_max, sigpipe, seccomp, seed, inject), '#' comments; 'sockdiag check' prints one. [SOCKDIAG_CONFIG]")
      ->type_name("FILE")
      ->group(g);
  sub.add_option("--seed", o.seed,
                 "Seed of the injection rules' probabilities: the same seed and inputs give the same faults. "
                 "[SOCKDIAG_SEED]")
      ->type_name("N")
      ->group(g);
}

Settings::Settings(const SettingOptions& o, char** env) {
  for (char** e = env; e && *e; ++e) {
    if (std::strncmp(*e, "SOCKDIAG_", 9) != 0) continue;
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    vars_[std::string(*e, static_cast<std::size_t>(eq - *e))] = eq + 1;
  }
  auto put = [this](const std::optional<std::string>& v, const char* var, const char* opt) {
    if (v) set(var, *v, opt);
  };
  // Paths are made absolute: children that change directory read the same files.
  if (o.log) set("SOCKDIAG_LOG", *o.log == "stderr" || names_sink(*o.log) || o.log->rfind("unix:", 0) == 0 ? *o.log : absolute_path(*o.log), "--log");
  if (o.config) set("SOCKDIAG_CONFIG", absolute_path(*o.config), "--config");
  put(o.format, "SOCKDIAG_FORMAT", "--format");
  put(o.level, "SOCKDIAG_LEVEL", "--level");
  put(o.retry, "SOCKDIAG_RETRY", "--retry");
  put(o.retry_timeout_ms, "SOCKDIAG_RETRY_TIMEOUT_MS", "--retry-timeout-ms");
  put(o.retry_max, "SOCKDIAG_RETRY_MAX", "--retry-max");
  put(o.sigpipe, "SOCKDIAG_SIGPIPE", "--sigpipe");
  put(o.seccomp, "SOCKDIAG_SECCOMP", "--seccomp");
  put(o.seed, "SOCKDIAG_SEED", "--seed");
  if (!o.inject.empty()) {
    std::string joined;
    for (const std::string& r : o.inject) joined += (joined.empty() ? "" : "\n") + r;
    set("SOCKDIAG_INJECT", joined, "--inject");
    rules_ = o.inject;
  }
}

void Settings::set(const std::string& variable, const std::string& value, const std::string& option) {
  vars_[variable] = value;
  option_of_[variable] = option;
}

namespace {

const char* lookup(const char* name, void* ctx) {
  const auto* vars = static_cast<const std::map<std::string, std::string>*>(ctx);
  auto it = vars->find(name);
  return it == vars->end() ? nullptr : it->second.c_str();
}

bool is_name_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// "SOCKDIAG_LEVEL 'x' is not..." -> "--level 'x' is not..." for a value the
// user gave as an option; whole names only (SOCKDIAG_RETRY is a prefix of
// SOCKDIAG_RETRY_MAX).
std::string in_option_terms(std::string msg, const std::map<std::string, std::string>& option_of) {
  if (msg.rfind("sockdiag: ", 0) == 0) msg.erase(0, 10);
  for (const auto& [var, opt] : option_of) {
    for (std::size_t pos = msg.find(var); pos != std::string::npos; pos = msg.find(var, pos + 1)) {
      std::size_t end = pos + var.size();
      bool whole = (pos == 0 || !is_name_char(msg[pos - 1])) && (end == msg.size() || !is_name_char(msg[end]));
      if (whole) {
        msg.replace(pos, var.size(), opt);
        break;
      }
    }
  }
  return msg;
}

}  // namespace

sd::Config Settings::validate() const {
  for (const std::string& rule : rules_) {
    std::string error;
    sd::RuleSet* set = sd::parse_rules(rule, "--inject " + sd::quoted(rule), &error);
    if (!set) throw UsageError(error);
    sd::free_rules(set);
  }
  std::vector<const char*> names;
  for (const auto& kv : vars_) names.push_back(kv.first.c_str());
  names.push_back(nullptr);
  sd::Config cfg;
  std::string error;
  if (!sd::parse_config(lookup, const_cast<std::map<std::string, std::string>*>(&vars_), names.data(), &cfg, &error))
    throw UsageError(in_option_terms(error, option_of_));
  return cfg;
}

std::string Settings::name_of(const std::string& variable, const char* key) const {
  auto it = option_of_.find(variable);
  if (it != option_of_.end()) return it->second;
  return vars_.count(variable) ? variable : std::string(key) + " in the SOCKDIAG_CONFIG file";
}

void Settings::check_destinations(const sd::Config& cfg) const {
  auto check = [this](const char* path, sd::Destination kind, const char* variable, const char* key) {
    sd::Refusal why;
    if (sd::check_destination(path, kind, &why)) return;
    std::string setting = vars_.count(variable) ? variable : std::string(key) + " in the SOCKDIAG_CONFIG file";
    throw UsageError(in_option_terms(sd::describe_refusal(setting, path, kind, why), option_of_));
  };
  // Where the library opens a log at all (init.cpp).
  bool log_used = cfg.level != sd::Level::off || (cfg.summary && !cfg.summary_path[0]);
  // unix:PATH is a collector that may come later: nothing to check.
  if (log_used && std::strcmp(cfg.log, "stderr") != 0 && std::strncmp(cfg.log, "unix:", 5) != 0) check(cfg.log, sd::Destination::log, "SOCKDIAG_LOG", "log");
  if (cfg.summary_path[0]) check(cfg.summary_path, sd::Destination::summary, "SOCKDIAG_SUMMARY", "summary");
}

}  // namespace sdcli
