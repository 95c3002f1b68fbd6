// The observers of reads and writes: the fast path inline (the real call
// and a byte count), the rest (injection, retries, records) out of line.
// hooks.cpp sends every read and write to io_fast, or to io_detour off the
// fast path.
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

#include "control.h"
#include "caller_memory.h"
#include "config_state.h"
#include "fdtable.h"
#include "hook_group.h"
#include "inject.h"
#include "inject_datagram.h"
#include "inject_readiness.h"
#include "interpose.h"
#include "log.h"
#include "observe_args.h"
#include "observe_cold.h"
#include "policy_retry.h"
#include "summary.h"
#include "vm_children.h"

namespace sd {

// ---- The observers ------------------------------------------------------------
// Each returns what the real call returned, with the errno it left.

// Bytes moved on a socket, for its history (records show them). `k` is the
// entry's own kind, read from it: only a socket's entry is written, never
// the untracked chunk.
template <Call C, class R, class... A>
__attribute__((always_inline)) inline void count_bytes(Conn* e, Kind k, R r, const A&... a) {
  if (!is_socket(k)) return;
  if constexpr (group_of(C) == Group::input) {
    if (!(io_flags<C>(a...) & MSG_PEEK)) e->rx.fetch_add(io_bytes<C>(r, a...), std::memory_order_relaxed);
  } else {
    e->tx.fetch_add(io_bytes<C>(r, a...), std::memory_order_relaxed);
  }
}

// Expected flow of event loops: an EAGAIN on a socket that can only mean
// "would block" (no SO_RCVTIMEO/SO_SNDTIMEO on it); counted when it is. The
// fast path writes nothing more: a level that writes these sends reads and
// writes off it (g_detour), to io_failed.
inline bool would_block_as_expected(Call c, const Conn* e) {
  if (!e || !is_socket(e->get_kind()) || e->has(cf_rcvtimeo | cf_sndtimeo)) return false;
  count_expected_eagain(c);
  return true;
}

// A socket write made with MSG_NOSIGNAL, so that the kernel never raises
// SIGPIPE for it (policy_sigpipe.h decides about the signal afterwards).
// write/writev on a socket become send/sendmsg: the same kernel path, plus a
// flag; a fd taken for a socket that is not one any more falls back.
ssize_t write_to_non_socket(int fd, const void* buf, size_t n);
ssize_t writev_as_sendmsg(int fd, const iovec* iov, int iovcnt, Kind k);

// The kernel's write() on a SOCK_SEQPACKET socket marks the end of a record
// (MSG_EOR): so must the send it becomes. The write fast path leaves the
// kinds that may be one to the full path.
inline int write_eor(int fd, Kind k) {
  if (!may_be_seqpacket(k)) return 0;
  return k == Kind::unix_seqpacket || socket_type(fd) == SOCK_SEQPACKET ? MSG_EOR : 0;
}

// The most one read or write moves (the kernel's MAX_RW_COUNT).
constexpr std::size_t kMaxRwCount = INT_MAX & ~std::size_t{4095};

template <Call C, class... A>
__attribute__((always_inline)) inline auto send_nosignal(Kind k, int fd, A... a) {
  auto t = std::make_tuple(fd, a...);
  if constexpr (C == Call::send || C == Call::sendto || C == Call::sendmmsg) {
    std::get<3>(t) |= MSG_NOSIGNAL;
    return std::apply(real<C>(), t);
  } else if constexpr (C == Call::sendmsg) {
    std::get<2>(t) |= MSG_NOSIGNAL;
    return std::apply(real<C>(), t);
  } else if constexpr (C == Call::write) {
    // Above what one call moves, write checks the whole range against the
    // address space (EFAULT) where send cuts it first: the real write,
    // which fails before reaching the socket.
    if (__builtin_expect(std::get<2>(t) > kMaxRwCount, 0)) return real<Call::write>()(fd, std::get<1>(t), std::get<2>(t));
    ssize_t r = real<Call::send>()(fd, std::get<1>(t), std::get<2>(t), MSG_NOSIGNAL | write_eor(fd, k));
    // Closed behind the hooks (fclose(fdopen(sock))) and reused for a file.
    if (__builtin_expect(r < 0, 0) && errno == ENOTSOCK)
      return write_to_non_socket(fd, std::get<1>(t), std::get<2>(t));
    return r;
  } else {
    static_assert(C == Call::writev, "not a write-like call");
    return writev_as_sendmsg(fd, std::get<1>(t), std::get<2>(t), k);
  }
}

// A call made with at most `max` bytes (an injected short transfer or
// bandwidth limit): only the count changes, never the data. The program's
// msghdr and iovecs are read through the kernel; ones it would refuse are
// passed on as they are, and the call fails as it would. Plain lengths above
// what one call moves are left to the kernel's own checks (write refuses
// them where send cuts them).
std::size_t limit_iov(iovec* iov, std::size_t n, std::size_t max);

template <Call C, class Invoke, class... A>
inline auto call_limited(std::size_t max, Invoke&& invoke, int fd, A... a) {
  auto t = std::make_tuple(fd, a...);
  if constexpr (C == Call::recv || C == Call::send || C == Call::recvfrom || C == Call::sendto || C == Call::read ||
                C == Call::write || C == Call::__recv_chk || C == Call::__recvfrom_chk || C == Call::__read_chk) {
    if (std::get<2>(t) > max && std::get<2>(t) <= kMaxRwCount) std::get<2>(t) = max;
    return std::apply(invoke, t);
  } else if constexpr (C == Call::readv || C == Call::writev) {
    iovec local[64];
    std::size_t total;
    if (!copy_program_iov(std::get<1>(t), std::get<2>(t), local, 64, &total)) return std::apply(invoke, t);
    std::size_t n = std::get<2>(t) < 64 ? static_cast<std::size_t>(std::get<2>(t)) : 64;
    std::get<2>(t) = static_cast<int>(limit_iov(local, n, max));
    std::get<1>(t) = local;
    return std::apply(invoke, t);
  } else if constexpr (C == Call::recvmsg || C == Call::sendmsg) {
    auto* msg = std::get<1>(t);
    msghdr copy;
    iovec local[64];
    std::size_t total;
    if (!copy_from_program(&copy, msg, sizeof(copy)) || copy.msg_iovlen > IOV_MAX ||
        !copy_program_iov(copy.msg_iov, static_cast<long>(copy.msg_iovlen), local, 64, &total))
      return std::apply(invoke, t);
    iovec* program_iov = copy.msg_iov;
    std::size_t program_iovlen = copy.msg_iovlen;
    copy.msg_iov = local;
    copy.msg_iovlen = limit_iov(local, program_iovlen < 64 ? program_iovlen : 64, max);
    std::get<1>(t) = &copy;
    auto r = std::apply(invoke, t);
    if constexpr (C == Call::recvmsg) {
      // What the kernel writes back into the header (name and control
      // lengths, flags) goes to the program's, as the kernel writes it:
      // after a success, and a header it cannot write is its EFAULT.
      copy.msg_iov = program_iov;
      copy.msg_iovlen = program_iovlen;
      if (r >= 0 && !copy_to_program(msg, &copy, sizeof(copy))) {
        errno = EFAULT;
        return decltype(r)(-1);
      }
    }
    return r;
  } else {
    std::get<2>(t) = std::get<2>(t) > 1 ? 1 : std::get<2>(t);  // mmsg: one message at a time
    return std::apply(invoke, t);
  }
}

// A read or write that moved no byte and is not expected flow: its record.
// Keeps errno.
template <Call C, class R, class... A>
__attribute__((noinline, cold)) R io_outcome(int fd, R r, A... a) {
  int err = errno;
  Guard guard;
  if constexpr (group_of(C) == Group::input) input_failed(C, fd, static_cast<long>(r), err, io_args<C>(r, true, a...), 0);
  else output_failed(C, fd, static_cast<long>(r), err, io_args<C>(r, true, a...), 0);
  errno = err;
  return r;
}

// The first read of a fd never seen (inherited, received, or a file): what
// it is is asked once, and a socket's history starts with these bytes.
template <Call C, class R, class... A>
__attribute__((noinline, cold)) void count_first_read(int fd, R r, A... a) {
  Guard guard;
  Kind k = kind_of(fd);
  if (Conn* e = find_conn(fd)) count_bytes<C>(e, k, r, a...);
}

// The failed first attempt of the fast path, handed over for retries.
struct FirstAttempt {
  long ret;
  int err;
  int errno_before;  // errno as the program left it before the call
};

// The address a send with MSG_FASTOPEN names, read as the kernel reads it;
// false when it names no inet address (the kernel then answers as to a send).
template <Call C, class... A>
inline bool fastopen_target(sockaddr_storage* out, socklen_t* len, const A&... a) {
  const sockaddr* addr = nullptr;
  if constexpr (C == Call::sendto) {
    addr = std::get<3>(std::tie(a...));
    *len = std::get<4>(std::tie(a...));
  } else {
    msghdr m;
    if (!copy_from_program(&m, std::get<0>(std::tie(a...)), sizeof(m))) return false;
    addr = static_cast<const sockaddr*>(m.msg_name);
    *len = m.msg_namelen;
  }
  return addr && copy_program_sockaddr(addr, *len, out) && (out->ss_family == AF_INET || out->ss_family == AF_INET6);
}

// Everything a read or write may need: injection, retries, trace records,
// classification of an unknown fd. Out of line: the fast path stays small.
template <Call C, class... A>
__attribute__((noinline)) auto observe_io_full(int fd, const FirstAttempt* first, A... a) {
  using R = decltype(real<C>()(fd, a...));
  Guard guard;
  constexpr bool input = group_of(C) == Group::input;
  Conn* c = find_conn(fd);
  Kind k = c ? c->get_kind() : Kind::unknown;
  // Whether a write goes to a socket decides its SIGPIPE, and a socket
  // inherited must be known before the rules look at its peer: a fd never
  // seen being created is asked about once, then remembered until it is
  // closed. A read leaves a closed socket's number its mark.
  if (__builtin_expect(input ? k == Kind::unknown : is_unclassified(k), 0)) {
    k = kind_of(fd);
    c = find_conn(fd);
  }
  auto invoke = [&](int f, auto... args) -> R {
    if constexpr (!input)
      if (is_socket(k)) return send_nosignal<C>(k, f, args...);
    return real<C>()(f, args...);
  };
  if constexpr (C == Call::sendto || C == Call::sendmsg) {
    sockaddr_storage target;
    socklen_t addr_len = 0;
    // MSG_FASTOPEN on a TCP socket: a connect and a send in one call. The
    // connect rules apply, and its answers are a connect's.
    if (__builtin_expect(io_flags<C>(a...) & MSG_FASTOPEN, 0) && (k == Kind::tcp4 || k == Kind::tcp6) &&
        fastopen_target<C>(&target, &addr_len, a...)) {
      const auto* to = reinterpret_cast<const sockaddr*>(&target);
      int err = 0;
      R r = -1;
      bool injected = false;
      if (__builtin_expect(g_rules != nullptr, 0)) {
        r = inject_connect(C, fd, to, addr_len, get_conn(fd), &injected, &err);
        if (injected && r < 0 && err != EINPROGRESS) {
          errno = err;
          return r;
        }
      }
      // A connect the injection made that succeeded: the send goes on.
      if (!injected || r == 0) {
        r = invoke(fd, a...);
        err = errno;
      }
      connect_done(C, fd, static_cast<long>(r), err, to, addr_len, 0);
      if (r > 0) {
        if (Conn* entry = fd_entry(fd)) count_bytes<C>(entry, entry->get_kind(), r, a...);
        return r;
      }
      errno = err;
      return r;
    }
  }
  // One attempt: the rules first (a fault they inject is recorded by them),
  // then the real call. A retry makes a new attempt, rules included.
  // Rules act on sockets only: a file's or a pipe's read and write are not
  // the network's (k is known here: an fd never seen was asked about above).
  bool injected_failure = false;
  bool injected_eof = false;  // the kernel never saw this call's memory
  auto attempt = [&]() -> R {
    if (__builtin_expect(g_rules != nullptr, 0) && is_socket(k)) {
      Verdict v = inject_io(C, fd, c, asked_length<C>(a...), io_flags<C>(a...));
      injected_failure = v.kind == Verdict::fail;
      if (injected_failure) {
        errno = v.code;
        return R(-1);
      }
      injected_eof = v.kind == Verdict::eof;
      if (injected_eof) return R(0);
      if (v.kind == Verdict::datagram) return datagram_call<C>(fd, c, v.rule, a...);
      if (v.kind == Verdict::clamp) return call_limited<C>(v.max_len, invoke, fd, a...);
    }
    return invoke(fd, a...);
  };
  int errno_before = 0;
  R r;
  if (first) {
    r = static_cast<R>(first->ret);
    errno = first->err;
    errno_before = first->errno_before;
  } else {
    if (__builtin_expect(g_retry_enabled, 0)) errno_before = errno;
    r = attempt();
  }
  int err = 0;
  int retries = 0;
  if (__builtin_expect(r <= 0, 0)) {
    err = errno;
    // Retries are for sockets only: a pipe's EAGAIN or EINTR is the
    // program's own business (self-pipe drain loops rely on it).
    if (r < 0 && __builtin_expect(g_retry_enabled, 0) && is_socket(kind_of(fd))) {
      Retry rt(C, fd);
      while (r < 0 && rt.again(err, io_flags<C>(a...), input ? POLLIN : POLLOUT)) {
        r = attempt();
        err = errno;
      }
      retries = rt.attempts();
      if (r >= 0) err = errno = errno_before;  // success after retries: errno as the program left it
    }
    if (injected_failure) return r;
  }
  if (__builtin_expect(r > 0, 1)) {
    if (Conn* entry = fd_entry(fd)) count_bytes<C>(entry, entry->get_kind(), r, a...);
    if (__builtin_expect(g_trace, 0)) trace_call(C, fd, static_cast<long>(r));
    return r;
  }
  if constexpr (input) input_failed(C, fd, static_cast<long>(r), err, io_args<C>(r, !injected_eof, a...), retries);
  else output_failed(C, fd, static_cast<long>(r), err, io_args<C>(r, !injected_eof, a...), retries);
  errno = err;
  return r;
}

// The hot path of every read and write: the real call and a byte count.
// Anything more (injection, a failure to record or retry, an fd never seen)
// goes out of line. One body, two builds: with kRetrying the program's errno
// is kept before the call and a failure is handed to the retry loop with its
// attempt (making the call again from scratch could lose an error the
// kernel reports once, like ECONNRESET).
template <Call C, bool kRetrying, class... A>
__attribute__((always_inline)) inline auto io_fast(int fd, A... a) {
  constexpr bool input = group_of(C) == Group::input;
  int errno_before = 0;
  if constexpr (kRetrying) errno_before = errno;
  decltype(real<C>()(fd, a...)) r;
  // A write's entry is read before the call (it decides MSG_NOSIGNAL) and
  // kept; a read's is looked up after it, when needed. The real function's
  // address is loaded where it is called: no register is kept for it.
  Conn* e = nullptr;
  Kind k = Kind::unknown;
  if constexpr (input) {
    r = real<C>()(fd, a...);
  } else {
    e = fd_entry(fd);
    if (e) k = e->get_kind();
    // A send with MSG_FASTOPEN connects: the full path treats it as one.
    if constexpr (C == Call::sendto || C == Call::sendmsg)
      if (__builtin_expect(io_flags<C>(a...) & MSG_FASTOPEN, 0)) return observe_io_full<C>(fd, nullptr, a...);
    // An fd never seen or out of range, or a write that may have to mark a
    // record's end (write_eor): the full path.
    if (__builtin_expect(C == Call::write ? !plain_kind(k) : is_unclassified(k), 0))
      return observe_io_full<C>(fd, nullptr, a...);
    r = k == Kind::not_socket ? real<C>()(fd, a...) : send_nosignal<C>(k, fd, a...);
  }
  if (__builtin_expect(r > 0, 1)) {
    if constexpr (input) {
      e = fd_entry(fd);
      if (!e) return r;
      k = e->get_kind();
      // The test count_bytes makes anyway: a socket pays nothing more.
      // A closed socket's number keeps its mark (a socket call on it later
      // is a use after close).
      if (__builtin_expect(!is_socket(k), 0)) {
        if (k == Kind::unknown) count_first_read<C>(fd, r, a...);
        return r;
      }
    }
    count_bytes<C>(e, k, r, a...);
    return r;
  }
  if constexpr (kRetrying) {
    if (r < 0) {
      FirstAttempt failed{static_cast<long>(r), errno, errno_before};
      return observe_io_full<C>(fd, &failed, a...);
    }
  } else {
    // A failure returns -1 (these calls have no other): said as a constant,
    // r need not be kept across errno's lookup, which saves a register and
    // its save and restore on every call.
    if (r < 0) {
      using R = decltype(r);
      if (errno == EAGAIN && would_block_as_expected(C, input ? fd_entry(fd) : e)) return R(-1);
      return io_outcome<C>(fd, R(-1), a...);
    }
  }
  return io_outcome<C>(fd, r, a...);
}

// Reads and writes off the fast path (g_detour set, or nested in a hook):
// what passes_through() names goes straight to libc; retries alone
// keep the fast path with a retrying tail; anything else takes the full one.
template <Call C, class... A>
__attribute__((noinline)) auto io_detour(int fd, A... a) {
  // Settings alone (retries, rules) bring every call here: the common case
  // is tested inline, the rest out of line.
  if (__builtin_expect(t_depth != 0 || g_passive || g_vm_sharing.load(std::memory_order_relaxed) != 0, 0) &&
      passes_through())
    return real<C>()(fd, a...);
  if (__builtin_expect(control_pending() != 0, 0)) control_apply();
  if (g_rules == nullptr && !g_log_expected) return io_fast<C, true>(fd, a...);
  return observe_io_full<C>(fd, nullptr, a...);
}

}  // namespace sd
