// The configuration in force in this process, set once before main.
#pragma once
#include "config.h"

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

}  // namespace sd
