// Replaying an earlier run's faults (SOCKDIAG_REPLAY, replay_plan.h): the
// plan's faults of this program, looked up by the call's connection key and
// index (call_identity.h) instead of asking the rules. A small step before
// the rules: every place that asks the rules asks pick_rule.
#pragma once
#include "call_identity.h"
#include "replay_plan.h"
#include "rules.h"

namespace sd {

// The rules of the plan being replayed (the armed set's, and its views'),
// nullptr when none is.
extern const Rule* g_replay_rules;

// Takes in this program's faults of `plan`, whose rules `set` is (the set
// armed at start-up, process_seed already applied). Start-up only: it
// allocates.
void replay_configure(const ReplayPlan& plan, const RuleSet& set, const char* prog);

// The plan's faults at the current call (current_point()), into `out` in
// rule order as match_rules would (rules that composed there act together
// again); each counted as its rule's injection. Their number.
unsigned replay_lookup(const RuleSet& set, Matched* out);

// The rules acting on the call described by `in`: the replayed faults when
// `set` is the replay's (a set given later by `sockdiag ctl` is matched as
// rules), else those that match. Any found are noted as the current call's
// firing, for their records.
inline unsigned pick_rules(const RuleSet& set, const MatchInput& in, Matched* out) {
  unsigned n = g_replay_rules && set.rules == g_replay_rules ? replay_lookup(set, out) : match_rules(set, in, out);
  if (n) note_firing();
  return n;
}

}  // namespace sd
