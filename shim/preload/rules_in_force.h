// The injection rules in force in this process: parsed from SOCKDIAG_INJECT
// before main and set by inject.cpp; read through the rule set's own
// interface (rules.h: its rules and their injection counts) by whoever only
// reports on them, such as the exit summary, which so needs nothing of
// injection itself.
#pragma once
#include <atomic>

#include "config_state.h"
#include "rules.h"

namespace sd {

// nullptr when none are (the one test on the hot path). A live change
// (`sockdiag ctl`, control.h) replaces it whole; a set once in force is
// never freed, so a pointer read from it stays valid.
extern std::atomic<const RuleSet*> g_rules;

// The rules the summary counts by rule: those of start-up (SOCKDIAG_INJECT,
// the settings file), whichever set is in force at exit. Rules given later
// by `sockdiag ctl` are counted by `sockdiag ctl counters` while the process
// runs; their injections are in the summary's counts by call. A child forked
// under control counts into its own copy of the set in force (control.h):
// that copy, when the start-up set was in force at the fork; none when
// another was (the start-up set's counters are then the parent's, in its
// shared control file).
extern std::atomic<const RuleSet*> g_summary_rules;
inline const RuleSet* summary_rules() { return g_summary_rules.load(std::memory_order_acquire); }

}  // namespace sd
