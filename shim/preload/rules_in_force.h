// The injection rules in force in this process: parsed from SOCKDIAG_INJECT
// before main and set by inject.cpp; read through the rule set's own
// interface (rules.h: its rules and their injection counts) by whoever only
// reports on them, such as the exit summary, which so needs nothing of
// injection itself.
#pragma once
#include "rules.h"

namespace sd {

// nullptr when none are (the one test on the hot path).
extern const RuleSet* g_rules;

}  // namespace sd
