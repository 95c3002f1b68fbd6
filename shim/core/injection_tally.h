// Injections by rule, call and peer: the breakdown `sockdiag ctl counters`
// shows beside each rule's own counts (rules.h RuleCounters). The table
// lives in a process's control file (control_file.h); the matcher adds to
// it each time a rule injects, and `sockdiag ctl` reads it from outside.
// No lock and no allocation (hooks run in signal handlers): an entry is
// claimed with one compare-and-swap, and a thread that finds an entry being
// filled goes on to the next one, so one key may hold two entries, which a
// reader adds up.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sd {

struct MatchInput;

struct TallyEntry {
  std::atomic<uint32_t> state;  // 0: free, 1: being filled, 2: filled (its key is read after acquire)
  uint32_t counter;             // the rule: the index of its RuleCounters in the control file
  uint8_t call;                 // CallId
  uint8_t family;               // AF_INET, AF_INET6 (IPv4-mapped counts as AF_INET), AF_UNIX; 0: no peer
  uint16_t port;                // host byte order
  uint8_t addr[16];             // AF_INET in the first 4 bytes
  char name[40];                // AF_UNIX: the path or "@name"; no peer: the name a lookup asked for; cut, ended
  std::atomic<uint64_t> injected;
};

constexpr uint32_t kTallyEntries = 4096;

struct InjectionTally {
  std::atomic<uint64_t> untallied;  // injections that found no room in the table
  TallyEntry entries[kTallyEntries];
};

// One more injection by the rule whose counters are at `counter`, on the
// call and peer of `in`.
void tally_injection(InjectionTally&, uint32_t counter, const MatchInput& in);

// Takes back one injection tallied for that rule, call and peer (the rule
// did not act after all).
void untally_injection(InjectionTally&, uint32_t counter, const MatchInput& in);

// The peer of a filled entry as records write it ("10.1.2.3:80", "[::1]:53",
// "/run/x.sock"); a lookup's entry: the name asked for.
std::string tally_peer_text(const TallyEntry&);

}  // namespace sd
