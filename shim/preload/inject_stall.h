// `stall` (rules.h): "the cable is unplugged". From the call that meets the
// rule on, the connection carries nothing in the rule's direction and says
// no error: a read never gets data, a write never gets room, the waits
// never report either; only the program's own timeouts (SO_RCVTIMEO,
// SO_SNDTIMEO, a wait's timeout, an alarm) end its calls. `stall=T` then
// resets the connection T after the stall began, as a firewall that dropped
// the flow makes the peer's retransmissions time out: the peer gets an RST,
// the program's next call ECONNRESET (a wait says readable at T).
// A stalled input is a hold with no deadline (inject_readiness.h); a stalled
// output is hidden from the waits here. Writes stall at once: the bytes a
// real send buffer would still take would never arrive either, and a
// program meets the full buffer a few calls earlier (tools/INJECT.md).
// Stream sockets only: a datagram socket's call meets no stall.
// Under live control a stall lasts while its rule is in force: when
// `sockdiag ctl` takes the rule away (remove, clear, replace, pause), the
// connection carries data again, and the calls blocked on it go on.
#pragma once
#include <cstdint>

#include "inject.h"

namespace sd::ctlfile {
struct StallWake;
}

namespace sd {

// A hold's deadline that never comes: input held back for good.
constexpr uint64_t kStalled = UINT64_MAX - 1;

// Some rule stalls (raised by arm_rules, never lowered): the waits ask.
extern std::atomic<bool> g_stall_rules;
void stall_arm(const RuleSet&);

// A read or write on a connection whose stall began earlier: true when the
// call is stalled (`*v` says how it ends); false: the call goes on.
bool stalled_io(Call, bool input, int fd, Conn*, int flags, Verdict* v);
// The rule `rule` (action stall) met this call: the stall begins, and the
// call is the first it stalls.
Verdict start_stall(Call, bool input, int fd, Conn*, const Rule* rule, int flags);

// A wait found input ready on `fd` and the rule `rule` (action stall)
// matched the read to come: the stall begins, and its input is held that
// long from now (inject_readiness.h).
uint64_t stall_from_wait(Call wait, int fd, Conn*, const Rule* rule);

// For the waits: output of `fd` stalled now (no room to report).
bool output_stalled(int fd);
// The program shut the stalled `fd` (entry `c`) down (shutdown's `how`,
// after it succeeded): the stalled calls of that direction blocked in other
// threads return, as the kernel wakes them (a read gets the end of stream,
// a write goes on to the kernel's EPIPE), and so do the later ones.
void stall_shutdown(int fd, Conn* c, int how);
// What blocked stalled calls wait on: the control file's wakes (made
// process-shared here), or nullptr for the library's own (control off, or
// a forked child without a file of its own).
void stall_wakes_in(ctlfile::StallWake* file_wakes);
// For a wait under live control: ends the stalls whose rule is no longer
// in force (recorded as `wait`'s); when to look again (kNever: no stall,
// or control is off). A blocked call is woken by `sockdiag ctl`; a wait
// cannot be, so it looks every kStallWatchNs.
constexpr uint64_t kStallWatchNs = 10'000'000;
uint64_t stall_watch(Call wait, uint64_t now);
// When a stalled connection's reset is due (CLOCK_MONOTONIC ns; kNever: no
// reset, or no stall).
uint64_t stall_reset_due(int fd, const Conn*);

// "2 s", "1.5 s": a rule's time in a record's note, to the millisecond
// (no allocation: hooks may run in signal handlers).
void seconds_text(uint64_t ns, char (&buf)[32]);

}  // namespace sd
