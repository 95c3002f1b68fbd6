// The configuration in force in this process, set once before main.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "config.h"
#include "interpose.h"

namespace sd {

// Written once by init (start-up, before other threads exist in practice),
// read everywhere after.
extern Config g_config;
inline const Config& config() { return g_config; }

// Hooks that run before our constructor (from other libraries'
// constructors) see the defaults until it has run.
void ensure_init();

// Says one line on stderr: the library's own words, not a record.
void say(const std::string& line);

// A forked child of a program run with --no-follow-children: every hook
// passes straight through.
extern bool g_passive;

// A cheap test for the hot path: is every intercepted call recorded?
extern bool g_trace;
// Are expected-flow failures (debug level) written, or only counted?
extern bool g_log_expected;

// Zero when every hook can take its fast path (observe.h, hooks.cpp): one
// test there instead of one per setting. A count of reasons not to: the
// settings (a passive child, rules, retries, a level that writes
// expected-flow failures or every call) count one, and each child sharing
// the process's memory that may be running counts one (vm_children.h).
// Named for vfork's assembly, which raises it.
extern std::atomic<uint32_t> g_detour __asm__("sd_detour") SD_HOT_DATA;
// Recomputes the settings' part of g_detour after any of the settings above
// changed.
void update_detour();

// Whether a hook that found g_detour or t_depth set must let its call
// straight through: a passive child, a child sharing the process's memory,
// the resolver's calls, signal handlers nested too deep (interpose.h).
__attribute__((cold)) bool passes_through();

}  // namespace sd
