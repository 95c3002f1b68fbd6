// Fault injection (SOCKDIAG_INJECT, rules.h): what an injected fault does to
// a call and to the connection afterwards, so that the program meets it the
// way it would meet the real fault.
#pragma once
#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "caller_memory.h"
#include "interpose.h"
#include "rules.h"
#include "rules_in_force.h"

namespace sd {

struct Conn;

void inject_configure();
void inject_after_fork();

// Taking in a rule set while the program runs (control.h). Arming a set
// (what the hooks derive from it: views for held input, what to gather)
// needs arm_room(set) bytes, given by the caller: arm_rules allocates
// nothing, so that it may run in any hook, even in a signal handler.
std::size_t arm_room(const RuleSet&);
// Makes `set` the rules in force, whole (nullptr or an empty set: none),
// for every call that starts afterwards; a call under way finishes with the
// set it began with. Sets are never freed: at most 255 are armed in a
// process's life; false (nothing changed) beyond.
// Returns the armed set (to put back in force with rearm), or nullptr.
const void* arm_rules(const RuleSet* set, void* mem, std::size_t room);
// Puts an armed set back in force (resuming after a pause).
void rearm(const void* armed);
// The armed set in force now.
const void* armed_now();
// The number of the armed set `rule` belongs to (Conn::inject_set).
uint8_t rule_set_of(const Rule* rule);

// The outcome of the rules for one call.
struct Verdict {
  enum Kind : unsigned char {
    proceed,  // make the real call (after any delay already taken)
    clamp,    // make the real call with at most `max_len` bytes
    fail,     // do not call: return -1 (getaddrinfo: `code`) with errno `code`
    eof,      // do not call: return 0
    datagram, // a datagram fault (`rule`, or none: held datagrams to count): inject_datagram.h makes the call
    done,     // do not call: the library did what the call asks (return 0)
  } kind = proceed;
  int code = 0;
  std::size_t max_len = 0;
  const Rule* rule = nullptr;
};

// Read/write-like calls: the state an earlier injected fault left on the
// connection (reset, end of stream, a pending error), then the rules. The
// length asked for is read only by a rule that needs it; `flags` are the
// call's MSG_* flags (MSG_DONTWAIT: a read held back does not wait).
Verdict inject_io(Call, int fd, Conn*, const AskedLength& len, int flags);
// The rule for the next datagram of a call that goes on past one
// (inject_datagram.h: a dropped or held-back datagram, the next message
// of a batch), counted as a call of its own. A rule of another action is
// applied here, `*v` its verdict; only a datagram rule is returned.
const Rule* next_datagram_rule(Call, int fd, Conn*, Verdict* v);
// The record of an injected datagram fault, with its note; `aftermath`:
// later records of the socket are marked with the rule too.
void record_injected(Call, int fd, Conn*, const Rule*, const char* note, bool aftermath);
// Whether a rule of the same normal form and action is in the set in
// force (none while paused): `rule` may be of an older set (control.h).
bool rule_in_force(const Rule* rule);
// For the waits (inject_readiness.h). A wait found input ready on the
// socket `fd`: how long a rule holds it back (0: not at all), asked as the
// read to come would be (the rules count it), with the hold's notice.
// `*dropped`: a rule dropped the datagram that was in (inject_datagram.h).
uint64_t input_hold_ns(Call wait, int fd, Conn*, bool* dropped);
// When the next read of `fd` is due to meet a rule that ends its input by
// the connection's or the process's age, or by the bytes that came in
// (CLOCK_MONOTONIC ns, 1 when due already; 0: never).
uint64_t input_due_at(int fd, Conn*);
// connect: may make the real call itself (a refusal is made real by
// connecting to a loopback port nobody listens on). `*handled` false: make
// the real call as usual. `addr` is the library's copy of the program's.
// `call` is the one the program made: connect, or a sendto with
// MSG_FASTOPEN (a connect and a send in one call, which connect rules match).
int inject_connect(Call call, int fd, const sockaddr* addr, socklen_t len, Conn*, bool* handled, int* err);
// Any other call: fail, delay, (close) reset, (close, shutdown) slow_close.
// `how`: shutdown's.
Verdict inject_call(Call, int fd, int how = -1);
// getaddrinfo: the rules touch only a lookup that would ask DNS
// (dns_scope.h); the others go on untouched.
Verdict inject_lookup(Call, const char* node, const addrinfo* hints);
// getsockopt(SO_ERROR) on a socket whose failed connect was injected:
// the error to report (0: none), cleared as the kernel clears it.
int take_injected_so_error(Conn*, const Rule** rule);
// The library's own sockets (the blackhole that makes connects time out):
// the program may not close them.
bool is_blackhole_fd(int fd);
// For the actions kept in files of their own (inject_stall.h, inject_slow_close.h):
// the connection aborted (the peer gets an RST), marked as an injected
// fault's aftermath, and the record of an injected fault.
void inject_abort(int fd, Conn*, const Rule*);
void inject_mark(Conn*, const Rule*);
void inject_record(Call, int fd, const Rule*, CodeKind, int code, long ret, const char* note);
// The rule that injected the pending error of `c`, if any.
const Rule* injected_rule_of(const Conn*);

}  // namespace sd
