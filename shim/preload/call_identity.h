// Which call this is, in terms that stay the same from one run of a
// deterministic program to the next: the connection's key within the
// process and the call's index on it (replay_plan.h defines both). Counted
// on every call the rules are asked about, so that each injected fault's
// record says where it struck and `sockdiag run --replay` can strike there
// again. Atomics only: no lock, no allocation (hooks run in signal handlers).
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "calls.h"

namespace sd {

struct Conn;
struct Rule;

// Where a call stands: its connection's key and its index (from 1).
struct CallPoint {
  uint64_t base_hash = 0;  // conn_base_hash of the key's base; that of "" for no socket
  uint32_t ordinal = 0;    // the key's K; 0 for no socket
  CallId call = CallId::count;
  uint64_t n = 0;
  int fd = -1;
};

// A socket's identity, kept beside its fd entry (fdtable.h): set by its
// connect, or on first use; cleared when the fd gets a new socket.
struct ConnIdentity {
  static constexpr std::size_t kBase = 72;
  std::atomic<uint64_t> base_hash;
  std::atomic<uint32_t> ordinal;  // 0: none yet
  std::atomic<uint32_t> n[kRuleCallCount];
  char base[kBase];  // the key's base as records write it, cut to fit (hashed as kept)
};

// A connect attempt on the socket `fd` to `addr`: the next connection of
// this program to that peer.
void identity_connect(int fd, const sockaddr* addr, socklen_t len);

// The call `id` on `fd` (-1: none) is asked about now: its index taken,
// and kept as this thread's current call. `c`: fd's entry where the caller
// has it (nullptr: looked up here).
void count_call(CallId id, int fd, Conn* c = nullptr);
const CallPoint& current_point();

// A rule matched the current call: its record (the next on this fd from
// this thread) says where it struck, and the delay it drew (note_drawn).
// A hook in a signal handler between the count and the record may take
// the thread's current call for its own, as with delay_ns (rules.h).
void note_firing();
void note_drawn(uint64_t ns);

// The firing on `fd` at a call named `id`, for each record of that call
// (several rules may act on it; a record of another call on the socket is
// not the firing's): the connection's key written into `conn` ("" for no
// socket), its index, and the draw noted last for a jittered delay's
// record (taken by that record only).
struct FiringFacts {
  uint64_t n = 0;
  bool drawn = false;
  uint64_t drawn_ns = 0;
};
bool take_firing(int fd, CallId id, char* conn, std::size_t cap, FiringFacts* out);

}  // namespace sd
