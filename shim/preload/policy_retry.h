// Retrying EINTR, EAGAIN and ECONNABORTED for programs that treat them as
// fatal (SOCKDIAG_RETRY). Each retry is recorded at info and counted.
#pragma once
#include <poll.h>
#include <sys/socket.h>

#include <cstdint>

#include "interpose.h"

namespace sd {

// Any retry configured at all: the one test on a failure path when none is.
extern bool g_retry_enabled;
void retry_configure();

// One intercepted call's retries.
class Retry {
 public:
  Retry(Call call, int fd) : call_(call), fd_(fd) {}
  // After a failure with `err`: true when the call should be made again
  // (after waiting for readiness where EAGAIN asks for it). `flags` are the
  // call's MSG_* flags; `events` what to wait for (POLLIN / POLLOUT).
  bool again(int err, int flags, short events);
  int attempts() const { return attempts_; }
  // For the wait calls: what is left of a timeout of `timeout_ms` that
  // started at `start_ns` (never below 0; negative stays infinite).
  static int remaining_ms(int timeout_ms, uint64_t start_ns);
  // The same for a timespec timeout (nullptr: infinite, returned as is).
  static const struct timespec* remaining_ts(const struct timespec* timeout, uint64_t start_ns, struct timespec* out);
  void note(int err, uint64_t waited_ns);  // counts and records one retry

 private:
  Call call_;
  int fd_;
  int attempts_ = 0;
  uint64_t waited_ns_ = 0;  // time spent waiting for readiness, all retries
};

// Whether SOCKDIAG_RETRY asks for `err` to be retried on this call.
bool retry_wanted(Call, int err);

// A blocking connect interrupted by a signal (EINTR, `addr` the program's).
// TCP: the handshake goes on in the kernel, and connect would now fail with
// EALREADY: wait for writability, then connect once more for the outcome.
// AF_UNIX: nothing goes on; connect is made again. Returns connect's
// result, with *err its errno.
int connect_after_eintr(int fd, const sockaddr* addr, socklen_t len, int* err, int* attempts);

}  // namespace sd
