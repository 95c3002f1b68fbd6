// The observers of poll, select and epoll_wait: the events they report,
// retries after EINTR with the time left, and rules that hold input back.
#pragma once
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <tuple>

#include "caller_memory.h"
#include "config_state.h"
#include "fdtable.h"
#include "hook_group.h"
#include "inject.h"
#include "inject_readiness.h"
#include "interpose.h"
#include "log.h"
#include "observe_cold.h"
#include "policy_retry.h"
#include "summary.h"
#include "vm_children.h"

namespace sd {

// poll/select/epoll called again after EINTR with what is left of the
// program's timeout, never the original one. For select the time left is
// computed from the original timeval too: the one Linux writes back does not
// count the time spent in signal handlers.
template <Call C, class Fn, class... A>
inline int wait_again(Fn real, uint64_t start_ns, const timeval* select_tv, A... a) {
  auto t = std::make_tuple(a...);
  timespec left;
  if constexpr (C == Call::poll || C == Call::__poll_chk) {
    std::get<2>(t) = Retry::remaining_ms(std::get<2>(t), start_ns);
  } else if constexpr (C == Call::epoll_wait || C == Call::epoll_pwait) {
    std::get<3>(t) = Retry::remaining_ms(std::get<3>(t), start_ns);
  } else if constexpr (C == Call::ppoll || C == Call::__ppoll_chk) {
    std::get<2>(t) = Retry::remaining_ts(std::get<2>(t), start_ns, &left);
  } else if constexpr (C == Call::pselect) {
    std::get<4>(t) = Retry::remaining_ts(std::get<4>(t), start_ns, &left);
  } else if constexpr (C == Call::select) {
    if (select_tv) {
      timespec orig{select_tv->tv_sec, select_tv->tv_usec * 1000};
      Retry::remaining_ts(&orig, start_ns, &left);
      *std::get<4>(t) = timeval{left.tv_sec, left.tv_nsec / 1000};
    }
  }
  return std::apply(real, t);
}

// The program's own timeout has run out (an infinite one never does).
template <Call C, class... A>
inline bool wait_time_over(uint64_t start_ns, const timeval* select_tv, const A&... a) {
  auto t = std::tie(a...);
  timespec left;
  if constexpr (C == Call::poll || C == Call::__poll_chk)
    return std::get<2>(t) >= 0 && Retry::remaining_ms(std::get<2>(t), start_ns) == 0;
  else if constexpr (C == Call::epoll_wait || C == Call::epoll_pwait)
    return std::get<3>(t) >= 0 && Retry::remaining_ms(std::get<3>(t), start_ns) == 0;
  else if constexpr (C == Call::ppoll || C == Call::__ppoll_chk)
    return std::get<2>(t) && Retry::remaining_ts(std::get<2>(t), start_ns, &left)->tv_sec == 0 && left.tv_nsec == 0;
  else if constexpr (C == Call::pselect)
    return std::get<4>(t) && Retry::remaining_ts(std::get<4>(t), start_ns, &left)->tv_sec == 0 && left.tv_nsec == 0;
  else {
    if (!select_tv) return false;
    timespec orig{select_tv->tv_sec, select_tv->tv_usec * 1000};
    Retry::remaining_ts(&orig, start_ns, &left);
    return left.tv_sec == 0 && left.tv_nsec == 0;
  }
}

// What the call returns when its time ran out: 0, and no fd ready.
template <Call C, class... A>
inline int wait_timed_out(const A&... a) {
  auto t = std::tie(a...);
  if constexpr (C == Call::select || C == Call::pselect) {
    int n = std::get<0>(t);
    for (fd_set* set : {std::get<1>(t), std::get<2>(t), std::get<3>(t)})
      if (set)
        for (int fd = 0; fd < n && fd < FD_SETSIZE; ++fd) FD_CLR(fd, set);
  } else if constexpr (group_of(C) == Group::poll) {
    for (nfds_t i = 0; i < std::get<1>(t); ++i) std::get<0>(t)[i].revents = 0;
  }
  return 0;
}

template <Call C, class... A>
inline void wait_ready_events(int ready, const A&... a) {
  if constexpr (group_of(C) == Group::poll) {
    auto t = std::tie(a...);
    poll_events(C, std::get<0>(t), std::get<1>(t), ready);
  } else if constexpr (group_of(C) == Group::epoll_wait) {
    epoll_events(C, std::get<1>(std::tie(a...)), ready);
  }
}

template <Call C, class Fn, class... A>
inline int observe_wait(Fn real, A... a) {
  uint64_t start = 0;
  int errno_before = 0;
  timeval select_tv{};
  const timeval* select_orig = nullptr;
  if (__builtin_expect(g_retry_enabled, 0)) {
    start = now_mono_ns();
    errno_before = errno;
    if constexpr (C == Call::select) {
      if (const timeval* tv = std::get<4>(std::tie(a...))) {
        select_tv = *tv;
        select_orig = &select_tv;
      }
    }
  }
  int r = real(a...);
  if (__builtin_expect(r > 0, 1)) {
    wait_ready_events<C>(r, a...);
    return r;
  }
  if (r == 0) return r;
  int err = errno;
  int retries = 0;
  if (g_retry_enabled && err == EINTR && retry_wanted(C, EINTR)) {
    Retry rt(C, -1);
    while (r < 0 && err == EINTR) {
      // A signal arriving when no time is left: the wait simply timed out.
      if (wait_time_over<C>(start, select_orig, a...)) {
        r = wait_timed_out<C>(a...);
        break;
      }
      if (!rt.again(err, 0, 0)) break;
      r = wait_again<C>(real, start, select_orig, a...);
      err = errno;
    }
    retries = rt.attempts();
    if (r >= 0) {
      errno = errno_before;
      if (r > 0) wait_ready_events<C>(r, a...);
      return r;
    }
  }
  wait_failed(C, r, err, retries);
  errno = err;
  return r;
}

}  // namespace sd
