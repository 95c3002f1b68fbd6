// What each group of hooks does around the real call. hooks.cpp sends
// reads and writes to io_fast (observe_io.h), every other hook to
// observe<C>() here; waits are observed by observe_wait.h, and everything
// about failures is out of line (observe_cold.h, observe.cpp).
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
#include "observe_io.h"
#include "observe_wait.h"
#include "policy_retry.h"
#include "summary.h"
#include "vm_children.h"

namespace sd {

// The fd a call works on (-1 for calls on no socket).
template <Call C, class... A>
inline int fd_arg(const A&... a) {
  constexpr Group g = group_of(C);
  if constexpr (g == Group::sockop || g == Group::accept || g == Group::close || g == Group::getsockopt ||
                g == Group::setsockopt)
    return std::get<0>(std::tie(a...));
  else
    return -1;
}

template <Call C, class Fn, class... A>
__attribute__((always_inline)) inline auto observe_calls(Fn real, A... a);

template <Call C, class Fn, class... A>
__attribute__((always_inline)) inline auto observe(Fn real, A... a) {
  constexpr Group g = group_of(C);
  // Rules on calls other than reads, writes and connect: fail, or delay.
  if constexpr (g != Group::connect && g != Group::accept && g != Group::dup && g != Group::fcntl &&
                g != Group::close_range && g != Group::epoll_ctl) {
    if (__builtin_expect(g_rules != nullptr, 0)) {
      Verdict v;
      if constexpr (g == Group::getaddrinfo) v = inject_lookup(C, std::get<0>(std::tie(a...)), std::get<2>(std::tie(a...)));
      else if constexpr (C == Call::shutdown) v = inject_call(C, fd_arg<C>(a...), std::get<1>(std::tie(a...)));
      else v = inject_call(C, fd_arg<C>(a...));
      // A shutdown whose FIN the library sends later (slow_close) is done.
      if constexpr (C == Call::shutdown)
        if (v.kind == Verdict::done) return 0;
      if (v.kind == Verdict::fail) {
        if constexpr (g == Group::getaddrinfo) {
          return v.code;
        } else {
          // close releases the fd even when it fails (Linux): so does an injected failure.
          if constexpr (g == Group::close) observe_calls<C>(real, a...);
          errno = v.code;
          return decltype(real(a...))(-1);
        }
      }
      // Rules that hold input back or make it due: the waits say so.
      if constexpr (g == Group::poll || g == Group::select || g == Group::epoll_wait)
        if (g_readiness) return observe_wait<C>([real](auto... x) { return held_wait<C>(real, x...); }, a...);
    }
  }
  return observe_calls<C>(real, a...);
}

template <Call C, class Fn, class... A>
__attribute__((always_inline)) inline auto observe_calls(Fn real, A... a) {
  constexpr Group g = group_of(C);
  static_assert(g != Group::input && g != Group::output, "reads and writes go through io_fast (hooks.cpp)");
  if constexpr (g == Group::socket) {
    auto [domain, type, protocol] = std::tie(a...);
    int r = real(a...);
    int err = errno;
    socket_done(C, r, err, domain, type);
    errno = err;
    return r;
  } else if constexpr (g == Group::socketpair) {
    auto [domain, type, protocol, sv] = std::tie(a...);
    int r = real(a...);
    int err = errno;
    socketpair_done(r, err, domain, type, sv);
    errno = err;
    return r;
  } else if constexpr (g == Group::connect) {
    auto [fd, addr, len] = std::tie(a...);
    int errno_before = errno;
    int r = -1, err = 0;
    bool injected = false;
    sockaddr_storage target;
    // The rules see the address through the kernel: one it would refuse
    // (EFAULT, EINVAL) is not injected into; the call fails as it would.
    if (__builtin_expect(g_rules != nullptr, 0) && copy_program_sockaddr(addr, len, &target)) {
      r = inject_connect(C, fd, reinterpret_cast<const sockaddr*>(&target), len, get_conn(fd), &injected, &err);
      // A failure the injection recorded itself is not recorded again; an
      // EINPROGRESS goes on like any non-blocking connect, with the copy,
      // and so does a connect the injection made that succeeded. An
      // injected EINTR is one attempt, which the retry policy may finish.
      if (injected && r < 0 && err != EINPROGRESS &&
          !(err == EINTR && g_retry_enabled && retry_wanted(C, EINTR))) {
        errno = err;
        return r;
      }
    }
    if (!injected) {
      r = real(a...);
      err = errno;
    }
    int retries = 0;
    if (r < 0 && err == EINTR && g_retry_enabled && retry_wanted(C, EINTR)) {
      // EINTR: the kernel has the address (kernel_accepted); the retry's
      // notice names the peer.
      set_peer(get_conn(fd), addr, len);
      r = connect_after_eintr(fd, addr, len, &err, &retries);
    }
    if (r == 0) err = errno_before;
    connect_done(C, fd, r, err, injected ? reinterpret_cast<const sockaddr*>(&target) : addr, len, retries);
    errno = err;
    return r;
  } else if constexpr (g == Group::sockop) {
    int r = real(a...);
    if constexpr (C == Call::shutdown) {
      if (r == 0) shut_down(std::get<0>(std::tie(a...)), std::get<1>(std::tie(a...)));
      if (__builtin_expect(r == 0 && !g_trace, 1)) return r;
    }
    int err = errno;
    if constexpr (C == Call::bind) sockop_done(C, std::get<0>(std::tie(a...)), r, err, std::get<1>(std::tie(a...)),
                                               std::get<2>(std::tie(a...)));
    else sockop_done(C, std::get<0>(std::tie(a...)), r, err, nullptr, 0);
    errno = err;
    return r;
  } else if constexpr (g == Group::accept) {
    auto t = std::tie(a...);
    int errno_before = errno;
    // As for reads and writes: an injected failure is one attempt, which
    // the retry policy may answer with another.
    bool injected_failure = false;
    auto attempt = [&]() -> int {
      if (__builtin_expect(g_rules != nullptr, 0)) {
        Verdict v = inject_call(C, std::get<0>(t));
        injected_failure = v.kind == Verdict::fail;
        if (injected_failure) {
          errno = v.code;
          return -1;
        }
      }
      return real(a...);
    };
    int r = attempt();
    int err = errno;
    int retries = 0;
    if (r < 0 && __builtin_expect(g_retry_enabled, 0)) {
      Retry rt(C, std::get<0>(t));
      while (r < 0 && rt.again(err, 0, POLLIN)) {
        r = attempt();
        err = errno;
      }
      retries = rt.attempts();
      if (r >= 0) err = errno_before;
    }
    if (r < 0 && injected_failure) {
      errno = err;
      return r;
    }
    accept_done(C, std::get<0>(t), r, err, retries);
    errno = err;
    return r;
  } else if constexpr (g == Group::close) {
    int fd = std::get<0>(std::tie(a...));
    Kind was;
    if (close_begin(fd, &was)) return -1;
    int r = real(a...);
    int err = errno;
    close_done(C, fd, r, err, was);
    errno = err;
    return r;
  } else if constexpr (g == Group::close_range) {
    if constexpr (C == Call::closefrom) {
      int r;
      int lowfd = std::get<0>(std::tie(a...));
      if (!close_range_split(static_cast<unsigned>(lowfd < 0 ? 0 : lowfd), ~0u, 0, &r)) real(a...);
    } else {
      auto [first, last, flags] = std::tie(a...);
      int r;
      if (close_range_split(first, last, flags, &r)) return r;
      return real(a...);
    }
  } else if constexpr (g == Group::getsockopt) {
    auto [fd, level, name, val, len] = std::tie(a...);
    int r = real(a...);
    if (__builtin_expect(r == 0 && !(level == SOL_SOCKET && name == SO_ERROR) && !g_trace, 1)) return r;
    int err = errno;
    getsockopt_done(fd, r, err, level, name, val, len);
    errno = err;
    return r;
  } else if constexpr (g == Group::setsockopt) {
    auto [fd, level, name, val, len] = std::tie(a...);
    int r = real(a...);
    int err = errno;
    setsockopt_done(fd, r, err, level, name, val, len);
    errno = err;
    return r;
  } else if constexpr (g == Group::poll || g == Group::select || g == Group::epoll_wait) {
    return observe_wait<C>(real, a...);
  } else if constexpr (g == Group::epoll_ctl) {
    auto [epfd, op, fd, ev] = std::tie(a...);
    int r = real(a...);
    int err = errno;
    if ((g_readiness || g_keep_registrations) && r == 0) epoll_registered(epfd, op, fd, ev);
    epoll_ctl_done(r, op, fd, ev);
    errno = err;
    return r;
  } else if constexpr (g == Group::getaddrinfo) {
    const char* node = std::get<0>(std::tie(a...));
    addrinfo** res = std::get<3>(std::tie(a...));
    int r;
    {
      ResolverScope resolving;
      r = real(a...);
    }
    int err = errno;
    getaddrinfo_done(r, err, node, res);
    errno = err;
    return r;
  } else if constexpr (g == Group::stdfds) {
    int fd = -1;
    if constexpr (C == Call::daemon) {
      if (std::get<1>(std::tie(a...)) != 0) return real(a...);  // noclose: fds 0-2 stay
    } else if constexpr (C == Call::login_tty) {
      fd = std::get<0>(std::tie(a...));
    } else {
      FILE* stream = std::get<sizeof...(a) - 1>(std::tie(a...));
      if (!stream) return real(a...);
      int saved = errno;
      fd = fileno_unlocked(stream);  // -1 (EBADF) for a memory stream
      errno = saved;
    }
    libc_fds_begin(C, fd);
    auto r = real(a...);
    int err = errno;
    libc_fds_done(C, fd);
    errno = err;
    return r;
  } else if constexpr (g == Group::rlimit) {
    int r = real(a...);
    if (r != 0) return r;
    // Any process's RLIMIT_FSIZE set through prlimit counts: reading ours
    // again costs one getrlimit, and pid 0, our pid and our threads' tids all
    // name this process.
    auto t = std::tie(a...);
    if constexpr (C == Call::prlimit || C == Call::prlimit64) {
      if (std::get<1>(t) == RLIMIT_FSIZE && std::get<2>(t)) log_fsize_limit_changed();
    } else if (std::get<0>(t) == RLIMIT_FSIZE) {
      log_fsize_limit_changed();
    }
    return r;
  } else if constexpr (g == Group::dup || g == Group::fcntl) {
    auto t = std::tie(a...);
    int fd = std::get<0>(t);
    if (is_log_fd(fd)) return errno = EBADF, -1;  // as close says: to the program it is not open
    if constexpr (g == Group::fcntl) {
      int cmd = std::get<1>(t);
      if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) return real(a...);
    } else if constexpr (C != Call::dup) {
      dup_begin(C, std::get<1>(t));
    }
    int r = real(a...);
    int err = errno;
    dup_done(C, fd, r, err);
    errno = err;
    return r;
  }
}

}  // namespace sd
