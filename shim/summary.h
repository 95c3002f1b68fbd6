// Counters of failures (per call and code, per peer) and the exit summary.
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "explain.h"
#include "interpose.h"

namespace sd {

// EAGAIN on a socket that can only mean "would block" (no SO_RCVTIMEO or
// SO_SNDTIMEO), counted on the read/write fast path and folded into the
// summary's EAGAIN rows.
extern std::atomic<uint32_t> g_expected_eagain[kCallCount] SD_HOT_DATA;
inline void count_expected_eagain(Call c) {
  g_expected_eagain[static_cast<std::size_t>(c)].fetch_add(1, std::memory_order_relaxed);
}

// Counted for every failure, written or not (expected flow included).
void count_failure(Call, Domain, int code, Level, const sockaddr* peer, socklen_t peer_len, bool injected);
void count_retry(Call, int code);
// Writes the summary (one write per line) to the log: at exit, if asked for.
void write_summary();
// A forked child counts its own failures only.
void summary_after_fork();

}  // namespace sd
