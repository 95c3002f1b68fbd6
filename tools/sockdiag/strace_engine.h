// `sockdiag run --engine strace`: CMD traced by strace instead of preloaded
// with the library, for the programs no LD_PRELOAD library sees (static, Go).
// strace's output comes through a FIFO in a private directory and is turned
// into records by TraceReader (trace_reader.h).
#pragma once
#include <string>
#include <vector>

#include "commands.h"
#include "config.h"
#include "settings.h"
#include "strace_rules.h"

namespace sdcli {

// The system calls strace traces: those where a socket program's failures
// show, Go's included (a refused dial is a getsockopt(SO_ERROR) that succeeds
// after an epoll wait; its socket I/O is read and write). '?': absent on some
// architectures. TraceReader reads the lines of exactly these.
extern const char* const kStraceTraceSet;

enum class Engine { automatic, preload, strace };

// "auto", "preload", "strace"; anything else is a UsageError.
Engine parse_engine(const std::string& word);

// The strace engine cannot honour these settings: retries (--retry) and an
// explicit SIGPIPE policy of ignore (the program keeps SIGPIPE's default
// under strace). Throws UsageError naming the setting.
void check_strace_settings(const Settings& settings, const sd::Config& config);

// The absolute path of strace, or a UsageError saying why the engine cannot
// work here (strace not in PATH, tracing refused by the kernel) and what to
// do: checked before CMD starts.
std::string strace_or_refusal();

// Runs CMD under strace as this process's direct child; its records go
// where `config` says, the tree's summary too with options.summary. `env`:
// CMD's environment; `rules`: the run's rules as strace injects them
// (strace_rules.h, every one mappable). Returns the status a shell would
// give (spawn.h).
int run_under_strace(const RunOptions& options, const sd::Config& config, const std::string& strace,
                     const std::vector<std::string>& env, const std::vector<RuleMapping>& rules);

}  // namespace sdcli
