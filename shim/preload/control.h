// Live control (SOCKDIAG_CONTROL, `sockdiag ctl`): the process's control
// file (control_file.h), made before main, and taking in the rule sets
// `sockdiag ctl` writes there. No thread and no signal: the hooks compare
// one shared number with the one last taken in (control_pending), and the
// first hook to see a difference takes the change in (control_apply),
// allocating nothing (it may run in a signal handler).
#pragma once
#include <atomic>
#include <cstdint>

#include "interpose.h"
#include "rules.h"

namespace sd {

// The control file's `pending` word (set by `sockdiag ctl` after each
// change, cleared by the library as it takes changes in); a constant 0 of
// the library's own when control is off.
extern std::atomic<uint32_t>* g_control_pending SD_HOT_DATA;

// Non-zero when a change waits to be taken in: two loads on every hook's way.
inline uint32_t control_pending() { return g_control_pending->load(std::memory_order_relaxed); }
// Takes in what `sockdiag ctl` changed, whole, for the calls that start
// after it. Any thread, any hook, a signal handler: no allocation, no lock
// but a spin while another thread takes the same change in.
__attribute__((cold, noinline)) void control_apply();

// Start-up: makes the control file (when config().control), before the
// rules are configured...
void control_start();
// ...has the start-up rules count where `sockdiag ctl` reads them: their
// counters and their tally by call and peer in the file (unchanged when
// control is off or the file has no room)...
void control_counters(RuleSet& set);
// ...and writes the rules in force into the file, once configured.
void control_publish_start();
bool control_enabled();
// A forked child: a control file of its own, with the rules of the parent.
void control_after_fork();
// Exit: the file goes away with the process.
void control_stop();

}  // namespace sd
