// Retry policy (see policy_retry.h).
#include "policy_retry.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

#include "config_state.h"
#include "fdtable.h"
#include "report.h"
#include "summary.h"

namespace sd {

bool g_retry_enabled = false;

namespace {

int index_of(int err) {
  switch (err) {
    case EINTR: return retry_eintr;
    case EAGAIN: return retry_eagain;
    case ECONNABORTED: return retry_econnaborted;
    default: return -1;
  }
}

// EAGAIN is the program's own choice under MSG_DONTWAIT, or its own timeout
// under SO_RCVTIMEO/SO_SNDTIMEO: never waited out for it.
bool own_timeout(int fd, bool sending) {
  Conn* c = find_conn(fd);
  if (c && !c->has(sending ? cf_sndtimeo : cf_rcvtimeo)) return false;
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (real<Call::getsockopt>()(fd, SOL_SOCKET, sending ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len) != 0)
    return false;
  return tv.tv_sec != 0 || tv.tv_usec != 0;
}

// poll() on one fd, EINTR absorbed, within `timeout_ms`. >0: ready.
int wait_ready(int fd, short events, int timeout_ms, uint64_t* waited) {
  uint64_t t0 = now_mono_ns();
  int r;
  for (;;) {
    pollfd p{fd, events, 0};
    r = real<Call::poll>()(&p, 1, Retry::remaining_ms(timeout_ms, t0));
    if (r >= 0 || errno != EINTR) break;
  }
  *waited = now_mono_ns() - t0;
  return r;
}

}  // namespace

void retry_configure() {
  const Config& c = config();
  g_retry_enabled = c.retry_calls[0] || c.retry_calls[1] || c.retry_calls[2];
}

bool retry_wanted(Call call, int err) {
  int i = index_of(err);
  return i >= 0 && (config().retry_calls[i] >> static_cast<unsigned>(class_of(call)) & 1u);
}

int Retry::remaining_ms(int timeout_ms, uint64_t start_ns) {
  if (timeout_ms < 0) return -1;
  uint64_t spent_ms = (now_mono_ns() - start_ns) / 1000000;
  return spent_ms >= static_cast<uint64_t>(timeout_ms) ? 0 : timeout_ms - static_cast<int>(spent_ms);
}

const timespec* Retry::remaining_ts(const timespec* timeout, uint64_t start_ns, timespec* out) {
  if (!timeout) return nullptr;
  uint64_t total = static_cast<uint64_t>(timeout->tv_sec) * 1000000000u + static_cast<uint64_t>(timeout->tv_nsec);
  uint64_t spent = now_mono_ns() - start_ns;
  uint64_t left = spent >= total ? 0 : total - spent;
  out->tv_sec = static_cast<time_t>(left / 1000000000u);
  out->tv_nsec = static_cast<long>(left % 1000000000u);
  return out;
}

void Retry::note(int err, uint64_t waited_ns) {
  ++attempts_;
  count_retry(call_, err);
  Outcome f{call_};
  f.fd = fd_;
  f.code = err;
  f.retries = attempts_;
  f.retry_waited_ns = waited_ns;
  f.retrying = true;
  report(f);
}

bool Retry::again(int err, int flags, short events) {
  if (!retry_wanted(call_, err)) return false;
  uint32_t max = config().retry_max;
  if (max && static_cast<uint32_t>(attempts_) >= max) return false;
  uint64_t waited = 0;
  // Under SO_RCVTIMEO/SO_SNDTIMEO the kernel never restarts a socket call
  // after a signal: calling again would restart the program's timeout.
  if (err == EINTR && fd_ >= 0 && (events == POLLIN || events == POLLOUT) && own_timeout(fd_, events == POLLOUT))
    return false;
  if (err == EAGAIN) {
    if ((flags & MSG_DONTWAIT) || own_timeout(fd_, events == POLLOUT)) return false;
    uint64_t bound = static_cast<uint64_t>(config().retry_timeout_ms) * 1000000u;
    if (waited_ns_ >= bound) return false;
    // Never a busy loop: wait for the fd to become ready, up to the bound.
    int left_ms = static_cast<int>((bound - waited_ns_ + 999999) / 1000000);
    int ready = wait_ready(fd_, events, left_ms, &waited);
    waited_ns_ += waited;
    if (ready <= 0) return false;  // the bound is reached: the program gets its EAGAIN
  }
  note(err, waited);
  return true;
}

int connect_after_eintr(int fd, const sockaddr* addr, socklen_t len, int* err, int* attempts) {
  Retry rt(Call::connect, fd);
  Kind k = kind_of(fd);
  if (k == Kind::unix_stream || k == Kind::unix_seqpacket) {
    // An interrupted unix connect left nothing behind (unix_stream_connect
    // frees its half-made connection): the connect starts over, as a
    // restarting kernel would make it.
    int r = -1;
    *err = EINTR;
    while (r < 0 && *err == EINTR && rt.again(EINTR, 0, POLLOUT)) {
      r = real<Call::connect>()(fd, addr, len);
      *err = errno;
    }
    *attempts = rt.attempts();
    return r;
  }
  // TCP: the handshake goes on in the kernel. Wait until it is over, then
  // connect once more: the socket is no longer connecting, so the kernel
  // answers at once with the outcome (0, or the error it held) and leaves
  // the socket as an uninterrupted connect would (connected, or ready for a
  // new attempt), where reading SO_ERROR would leave it half-way.
  uint64_t waited = 0;
  int ready = wait_ready(fd, POLLOUT, static_cast<int>(config().retry_timeout_ms), &waited);
  rt.note(EINTR, waited);
  *attempts = rt.attempts();
  if (ready <= 0) {
    *err = EINTR;  // still connecting at the bound: the program sees its EINTR
    return -1;
  }
  int r = real<Call::connect>()(fd, addr, len);
  *err = errno;
  return r;
}

}  // namespace sd
