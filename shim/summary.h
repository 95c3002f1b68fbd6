// Counters of failures (per call and code, per peer) and the exit summary.
#pragma once
#include <sys/socket.h>

#include "explain.h"
#include "interpose.h"

namespace sd {

// Counted for every failure, written or not (expected flow included).
void count_failure(Call, Domain, int code, Level, const sockaddr* peer, socklen_t peer_len, bool injected);
void count_retry(Call, int code);
// Writes the summary (one write per line) to the log: at exit, if asked for.
void write_summary();
// A forked child counts its own failures only.
void summary_after_fork();

}  // namespace sd
