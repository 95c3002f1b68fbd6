// The configuration in force in this process, set once before main.
#pragma once
#include <cstdint>

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

// A forked child of a program run with --no-follow-children: every hook
// passes straight through.
extern bool g_passive;

// A cheap test for the hot path: is every intercepted call recorded?
extern bool g_trace;
// Are expected-flow failures (debug level) written, or only counted?
extern bool g_log_expected;

// Zero when every read and write can take the fast path (observe.h): one
// test there instead of one per setting. Nonzero for a passive child, rules,
// retries, or a level that writes expected-flow failures or every call.
extern uint8_t g_io_detour SD_HOT_DATA;
// Recomputes g_io_detour after any of the settings above changed.
void update_io_detour();

}  // namespace sd
