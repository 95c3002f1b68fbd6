// Per-thread blocks of counters (ctab::Lane, counter_table.h): each thread
// counts into its own, so that no cache line is written by every thread of
// the process (event loops on many cores draining their sockets to EAGAIN
// would make one bounce between the cores on every call). The readers add
// a process's lanes up.
//
// A lane is claimed on a thread's first count, never freed: when the thread
// exits (a pthread key destructor, registered for threads that counted
// only), its lane goes to the next thread that counts, whose counts add to
// the ones already there. Lanes of home 0 are in this process's memory
// (written out at exit); the others are the shared table's, tagged with the
// process's slot, so that a death by signal or _exit loses nothing.
#pragma once
#include <atomic>
#include <cstdint>

#include "counter_table.h"

namespace sd {

// This thread's lane; nullptr until it first counts, or when none was left.
// initial-exec TLS, __thread: one load from the thread pointer (interpose.h).
extern __thread ctab::Lane* t_lane __attribute__((tls_model("initial-exec")));

// Lanes this process may hold at once (threads counting at the same time);
// threads beyond them count into the process's slot, shared.
constexpr uint32_t kHeldLanes = 256;

// Adds n to a counter of this thread's own lane. No other thread writes it,
// so no lock prefix; one instruction on x86, so that a signal handler
// counting on the same thread runs before or after it, never between a load
// and a store (its count would be lost). Readers load whole 32-bit words.
// Elsewhere an atomic add, on a line no other thread writes.
inline void lane_add(std::atomic<uint32_t>& a, uint32_t n) {
#if defined(__x86_64__) || defined(__i386__)
  asm("addl %1, %0" : "+m"(*reinterpret_cast<uint32_t*>(&a)) : "ir"(n));
#else
  a.fetch_add(n, std::memory_order_relaxed);
#endif
}

// Before main: the thread-exit hook that hands a lane on. Until then (and if
// the key cannot be had safely) lanes are claimed as well, and kept.
void lanes_prepare();
// Where lanes of a home other than 0 come from (the shared table).
void lanes_take_shared_from(ctab::Lane* (*take)(uint32_t home));
// A lane for this thread counting for `home` (0: in this process's memory,
// else the slot's tag, ctab::Lane::slot): one a thread that exited left, or
// a new one; nullptr when none is left. Sets t_lane.
ctab::Lane* lane_claim(uint32_t home);
// This thread hands its lane on, as at its exit.
void lane_release();
// The lanes of home 0 ever handed out (in use or not), for the exit summary.
const ctab::Lane* private_lanes(uint32_t* n);
// In a forked child: the parent's lanes are not its own (the private ones
// are zeroed, the shared ones stay the parent's).
void lanes_after_fork();

}  // namespace sd
