// Counters of failures (per call and code, per peer, retries, expected flow)
// and the exit summary. Where the counts live: counter_table.h.
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "counter_table.h"
#include "explain.h"
#include "interpose.h"
#include "per_thread_counts.h"

namespace sd {

// The slot this process counts into: its own (written at exit), or one of
// the table shared with `sockdiag run --summary`. nullptr while a process
// that shares the table has not counted yet: it takes a slot on its first
// count (processes with nothing to report take none), and a forked child
// starts over with nullptr, so that it never counts into its parent's slot.
extern std::atomic<ctab::Slot*> g_slot SD_HOT_DATA;
ctab::Slot* claim_slot();

// A thread without a lane yet: claims one, or counts into the slot.
void count_expected_eagain_claiming(Call);

// EAGAIN on a socket that can only mean "would block" (no SO_RCVTIMEO or
// SO_SNDTIMEO), counted on the read/write fast path into this thread's own
// lane (a TLS load, a test and an add: no line shared with other threads)
// and folded into the summary's EAGAIN rows.
inline void count_expected_eagain(Call c) {
  ctab::Lane* l = t_lane;
  if (__builtin_expect(l == nullptr, 0)) return count_expected_eagain_claiming(c);
  lane_add(l->expected_eagain[static_cast<std::size_t>(c)], 1);
}

// Counted for every failure, written or not (expected flow included).
void count_failure(Call, CodeKind, int code, Level, const sockaddr* peer, socklen_t peer_len, bool injected);
void count_retry(Call, int code);
// A record the log could not take (a full disk, a reader that stopped
// reading): the summary says how many, since the log cannot.
void count_dropped_record();
// Before main: maps the table SOCKDIAG_COUNTERS names, if any. A process
// that cannot (its parent closed the fd before executing it) counts
// privately, and says so in the summary file at once.
void summary_configure();
// At exit: writes what was counted privately (one write per line) to the
// log or to SOCKDIAG_SUMMARY's file; counts in the shared table are read by
// `sockdiag run` instead. A death by signal or `_exit` skips this.
void write_summary();
// A forked child counts its own failures only.
void summary_after_fork();

}  // namespace sd
