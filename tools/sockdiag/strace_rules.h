// The fault-injection rules (shim/core/rules.h) under the strace engine:
// which rules strace 6.1's `-e inject=SET:error=E:delay_enter=D:when=EXPR`
// can carry, exactly or approximately, and which it cannot, with the reason.
// tools/INJECT.md ("Under the strace engine") has the same table for users.
//
// What strace can and cannot do, as tested with strace 6.1 on x86_64:
// - it fails or delays a whole system call, before the kernel runs it; it
//   cannot see a socket's peer, a byte count or a time, nor cut a transfer;
// - `when=` numbers the calls of each system call of each thread apart
//   (first and step 1..65535, last 1..65534);
// - one injection per system call: a second -e inject naming it replaces
//   the first;
// - -e inject on a system call that is not traced is silently ignored.
#pragma once
#include <string>
#include <vector>

#include "rules.h"

namespace sdcli {

enum class Mapping { exact, approximate, none };

struct RuleMapping {
  Mapping mapping = Mapping::none;
  std::string rule;    // the rule in normal form
  std::string inject;  // the value of strace's `-e inject=...`; "" when none
  std::string reason;  // one line: why approximate or none; "" when exact
  // The system calls the injection names: each must be in strace's -e trace
  // set, or the injection never happens.
  std::vector<std::string> syscalls;
};

// One mapping per rule, in rule order (an empty vector for nullptr).
// `multithreaded`: the program runs several threads (every Go program does),
// so per-thread counts and non-blocking connects make those rules approximate.
std::vector<RuleMapping> map_rules(const sd::RuleSet* rules, bool multithreaded);

// "exact", "approximate", "not mappable".
const char* mapping_name(Mapping);

// Whether strace can run every rule (no Mapping::none).
bool all_mappable(const std::vector<RuleMapping>& mappings);

// One line per rule strace cannot run: "rule 'R' cannot run under strace:
// REASON" (what `run` prints, then exits 2).
std::vector<std::string> refusal_lines(const std::vector<RuleMapping>& mappings);

// Whether a mapped rule counts calls (its injection has when=).
bool counts_calls(const std::vector<RuleMapping>& mappings);
// What to say of counts in a program not known to be multi-threaded.
inline constexpr const char* kPerThreadCounts =
    "strace counts each thread's calls apart: nth, every and times are exact only while the program runs one thread";

// One line per approximate rule ("rule 'R' is approximate under strace:
// REASON"), and, for a program not known to be multi-threaded whose rules
// count calls, kPerThreadCounts.
std::vector<std::string> warning_lines(const std::vector<RuleMapping>& mappings, bool multithreaded);

// The system calls of every mapped rule, each once, for the -e trace set.
std::vector<std::string> inject_syscalls(const std::vector<RuleMapping>& mappings);

}  // namespace sdcli
