// Injected input that arrives late, seen from poll, select and epoll. A rule
// that delays input (delay=, bandwidth= on input) must look like a slow
// peer: its data is not there yet. Sleeping inside the read is not that: the
// wait already said "readable", so the program's own timeouts never fire
// and an event loop freezes for all its clients. So a delayed input holds
// the socket's readiness back instead: until a per-connection deadline (a
// hold, started when a wait first finds the data ready, or a read first
// asks for it), the waits do not report it readable, a non-blocking read
// finds nothing (EAGAIN) and a blocking one waits. The waits keep the
// program's own timeout exactly and report other fds at once.
// A datagram a rule drops on its way in never makes the socket readable:
// the wait that finds it in asks the rules about it (as its read would,
// each datagram one call) and takes a dropped one, unseen, before it
// reports anything.
// The other way round, a rule that ends an idle connection's input at a
// time or after some bytes (after=, since_start=, after_bytes= with eof,
// reset or error) makes the socket readable when it is due, so that a
// program that only reads when a wait says so meets it.
// Everything here runs only with such rules (g_readiness): the waits' fast
// path without rules is untouched (observe.h).
#pragma once
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <tuple>

#include "caller_memory.h"
#include "fdtable.h"
#include "interpose.h"

namespace sd {

// Some rule holds input back or ends it when due (set by inject_configure;
// raised, never lowered, as `sockdiag ctl` gives new rules: inject.h).
extern std::atomic<bool> g_readiness;
// Which: some hold input back (delay, bandwidth) or drop datagrams that
// came in (drop on every input call); of those, some may answer the read
// otherwise than the wait (they count calls: nth, every, prob, times; a
// drop's after= or since_start=); some drop datagrams; some end input when
// due (after=, since_start=, after_bytes=).
extern std::atomic<bool> g_input_hold_rules;
extern std::atomic<bool> g_input_hold_counted;
extern std::atomic<bool> g_input_drop_rules;
extern std::atomic<bool> g_input_due_rules;
constexpr uint64_t kNever = UINT64_MAX;

// ---- The holds, for the input calls (inject.cpp) ------------------------------
enum class HoldState : uint8_t {
  none,      // no hold: the rules decide
  probed,    // a wait found the data ready and asked the delay and drop rules: none held or dropped it
  held,      // held back until the deadline
  released,  // the deadline passed: this read takes the data held back
};
// The hold on the socket `fd`; a probed or released one is used up by the
// input call that asks (its delay rules were asked already, by the wait).
HoldState take_hold(int fd, const Conn*, uint64_t* deadline);
// Input on `fd` is held back until `deadline` (CLOCK_MONOTONIC ns).
// False when no slot was free (the caller then sleeps as before).
bool start_hold(int fd, const Conn*, uint64_t deadline);
void end_hold(int fd);

// ---- For the waits ---------------------------------------------------------------
// epoll_ctl succeeded: what `fd` is registered for in `epfd`, so that a hold
// can take the input out of the registration and give it back at its
// deadline (which makes the kernel report it again, even edge-triggered).
// Kept while such rules are armed (g_readiness), and from the start under
// live control (g_keep_registrations), where they may come later: a
// registration made before them is then known too (a one-shot one whose
// datagrams a wait drops must be armed again).
extern std::atomic<bool> g_keep_registrations;
void epoll_registered(int epfd, int op, int fd, const epoll_event* ev);
// A stalled output carries data again: its epoll registrations get back
// the room they were told of (inject_stall.h).
void output_room_back(int fd);

int held_poll(Call, int (*real)(pollfd*, nfds_t, const timespec*, const sigset_t*), pollfd* fds, nfds_t n,
              const timespec* timeout, const sigset_t* mask);
int held_select(Call, int (*real)(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*), int n,
                fd_set* r, fd_set* w, fd_set* e, const timespec* timeout, const sigset_t* mask, timeval* tv);
int held_epoll(Call, int (*real)(int, epoll_event*, int, int, const sigset_t*), int epfd, epoll_event* ev, int max,
               int timeout_ms, const sigset_t* mask);

// A timeout the kernel takes (one it refuses, EINVAL, is left to it).
inline bool valid(const timespec& ts) { return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L; }

// The wait hooks' entry: each call's arguments as held_*() takes them. The
// real calls are made through ppoll, pselect and epoll_pwait, which take
// every form of timeout and mask (a null mask: the plain call). A timeout
// is read through the kernel: one it cannot read is left to the real call.
template <Call C, class Fn, class... A>
inline int held_wait(Fn real_fn, A... a) {
  auto t = std::make_tuple(a...);
  timespec ts{};
  if constexpr (C == Call::poll || C == Call::__poll_chk) {
    // The fortified form's own check (an array shorter than said) aborts.
    if constexpr (C == Call::__poll_chk)
      if (std::get<3>(t) / sizeof(pollfd) < std::get<1>(t)) return real_fn(a...);
    int ms = std::get<2>(t);
    ts = timespec{ms / 1000, (ms % 1000) * 1000000L};
    return held_poll(C, real<Call::ppoll>(), std::get<0>(t), std::get<1>(t), ms < 0 ? nullptr : &ts, nullptr);
  } else if constexpr (C == Call::ppoll || C == Call::__ppoll_chk) {
    if constexpr (C == Call::__ppoll_chk)
      if (std::get<4>(t) / sizeof(pollfd) < std::get<1>(t)) return real_fn(a...);
    if (std::get<2>(t) && (!copy_from_program(&ts, std::get<2>(t), sizeof(ts)) || !valid(ts))) return real_fn(a...);
    return held_poll(C, real<Call::ppoll>(), std::get<0>(t), std::get<1>(t), std::get<2>(t) ? &ts : nullptr,
                     std::get<3>(t));
  } else if constexpr (C == Call::select) {
    timeval* tv = std::get<4>(t);
    timeval copy{};
    if (tv && !copy_from_program(&copy, tv, sizeof(copy))) return real_fn(a...);
    ts = timespec{copy.tv_sec, copy.tv_usec * 1000};
    if (tv && (copy.tv_usec < 0 || copy.tv_usec >= 1000000 || !valid(ts))) return real_fn(a...);
    return held_select(C, real<Call::pselect>(), std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                       tv ? &ts : nullptr, nullptr, tv);
  } else if constexpr (C == Call::pselect) {
    if (std::get<4>(t) && (!copy_from_program(&ts, std::get<4>(t), sizeof(ts)) || !valid(ts))) return real_fn(a...);
    return held_select(C, real<Call::pselect>(), std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                       std::get<4>(t) ? &ts : nullptr, std::get<5>(t), nullptr);
  } else if constexpr (C == Call::epoll_wait) {
    return held_epoll(C, real<Call::epoll_pwait>(), std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                      nullptr);
  } else {
    static_assert(C == Call::epoll_pwait, "not a wait");
    return held_epoll(C, real<Call::epoll_pwait>(), std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t),
                      std::get<4>(t));
  }
}

}  // namespace sd
