// Settings of the library, parsed and validated in one place (config.cpp)
// before the program's main runs. The same parser serves `sockdiag check`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "explain.h"

namespace sd {

struct RuleSet;  // fault-injection rules (rules.h)
struct ReplayPlan;  // the faults of an earlier run (replay_plan.h)

enum class Format : uint8_t { text, json };
enum class SigpipeMode : uint8_t { ignore, keep };
// In a process under a seccomp filter: pass everything through untouched
// (the filter may refuse a call the library adds), or stay on.
enum class SeccompMode : uint8_t { standdown, keep };

// Errors that SOCKDIAG_RETRY may retry, each limited to a set of calls.
enum RetryErr : uint8_t { retry_eintr = 0, retry_eagain = 1, retry_econnaborted = 2, retry_err_count = 3 };

struct Config {
  Level level = Level::error;
  Format format = Format::text;
  char log[4096] = "stderr";  // "stderr" or a path; %p becomes the pid
  bool summary = false;
  // Where the summary goes: "" = the log; or a file that every process of a
  // tree appends its summary to as JSON lines (`sockdiag run --summary`).
  char summary_path[4096] = "";
  // The inherited fd of the counter table shared with `sockdiag run` (the
  // SOCKDIAG_COUNTERS setting, counter_table.h); -1: none.
  int counters_fd = -1;
  // Bit i set in retry_calls[e]: retry error e for CallClass i.
  uint32_t retry_calls[retry_err_count] = {0, 0, 0};
  // Bound on the time one call spends waiting for readiness (EAGAIN).
  uint32_t retry_timeout_ms = 10000;
  // Bound on the retries of one call; 0: no bound (EINTR under a frequent
  // timer must never surface, however long the program's own call blocks).
  uint32_t retry_max = 0;
  SigpipeMode sigpipe = SigpipeMode::ignore;
  SeccompMode seccomp = SeccompMode::standdown;
  uint64_t seed = 0;
  bool seed_set = false;
  // false: only this process is watched; programs it executes, and children
  // it forks, run as if sockdiag were absent (`sockdiag run --no-follow-children`).
  bool follow_children = true;
  // SOCKDIAG_CONTROL: `sockdiag ctl` may change this process's rules while
  // it runs; control_run names the `sockdiag run` tree it belongs to (0: none).
  bool control = false;
  uint64_t control_run = 0;
  const RuleSet* rules = nullptr;  // owned, never freed (lives as long as the process)
  // SOCKDIAG_REPLAY: inject exactly these faults at these calls, no rule
  // else; `rules` is then the plan's own set. Owned, never freed.
  const ReplayPlan* replay = nullptr;
};

// Reads a variable; returns nullptr when it is unset.
using EnvLookup = const char* (*)(const char* name, void* ctx);

// Every variable the library reads.
extern const char* const kVariables[];

// Parses the SOCKDIAG_* variables (and SOCKDIAG_CONFIG's file) into `out`.
// `environ_names` lists the names of all variables set in the environment
// (nullptr-terminated, may be nullptr) so that a misspelt SOCKDIAG_ name is
// reported. On error returns false and sets `error` to one line saying which
// variable, what was wrong and what is accepted.
bool parse_config(EnvLookup get, void* ctx, const char* const* environ_names,
                  Config* out, std::string* error);

// Exit status of a process whose settings were refused before main
// (EX_CONFIG from sysexits.h).
constexpr int kConfigErrorStatus = 78;

}  // namespace sd
