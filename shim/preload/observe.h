// What each group of hooks does around the real call: the fast path inline
// (count bytes, nothing else), everything about failures out of line
// (observe.cpp). hooks.cpp sends reads and writes to io_fast (io_detour off
// the fast path), every other hook to observe<C>().
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
#include "interpose.h"
#include "inject.h"
#include "inject_readiness.h"
#include "log.h"
#include "policy_retry.h"
#include "summary.h"
#include "vm_children.h"

namespace sd {

enum class Group : uint8_t {
  socket, socketpair, connect, sockop, accept, output, input, close, close_range, getsockopt, setsockopt,
  poll, select, epoll_wait, epoll_ctl, getaddrinfo, dup, fcntl, stdfds, rlimit,
};

constexpr Group kGroups[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) Group::group,
#include "hooks.def"
#undef SD_HOOK
};
constexpr Group group_of(Call c) { return kGroups[static_cast<std::size_t>(c)]; }

// ---- Cold paths (observe.cpp) ----------------------------------------------
struct IoArgs {
  std::size_t len;  // bytes asked for
  int flags;        // MSG_* flags (0 for read/write)
};
void input_failed(Call, int fd, long ret, int err, IoArgs, int retries);
void output_failed(Call, int fd, long ret, int err, IoArgs, int retries);
void trace_call(Call, int fd, long ret);
void socket_done(Call, int ret, int err, int domain, int type);
void socketpair_done(int ret, int err, int domain, int type, const int sv[2]);
// A connect, or a send with MSG_FASTOPEN (a connect and a send in one
// call), returned.
void connect_done(Call, int fd, long ret, int err, const sockaddr* addr, socklen_t len, int retries);
void sockop_done(Call, int fd, int ret, int err, const sockaddr* addr, socklen_t len);
void accept_done(Call, int listen_fd, int ret, int err, int retries);
// Returns true when the program tried to close the library's own log fd:
// the close is then refused as if the fd were not open.
// `*was_socket` says whether fd was a socket, or one closed before (for
// close_done: a double close of a socket is reported, EBADF from a daemon's
// close-every-fd loop is not).
bool close_begin(int fd, Kind* was);
void close_done(Call, int fd, int ret, int err, Kind was);
// The range covers the log fd: closes around it and returns true.
bool close_range_split(unsigned first, unsigned last, int flags, int* ret);
void getsockopt_done(int fd, int ret, int err, int level, int name, void* val, const socklen_t* len);
void setsockopt_done(int fd, int ret, int err, int level, int name, const void* val, socklen_t len);
void poll_events(Call, pollfd* fds, nfds_t n, int ready);
void epoll_events(Call, epoll_event* ev, int ready);
void wait_failed(Call, int ret, int err, int retries);
void epoll_ctl_done(int ret, int op, int fd, const epoll_event* ev);
void getaddrinfo_done(int ret, int err, const char* node, addrinfo* const* res);
void dup_begin(Call, int newfd);
void dup_done(Call, int fd, int ret, int err);
// fclose(stream) closes `fd` inside libc; freopen replaces it (-1: a
// memory stream); daemon and login_tty replace fds 0-2 (login_tty closes
// its `fd` too). Called before and after the real call.
void libc_fds_begin(Call, int fd);
void libc_fds_done(Call, int fd);

// ---- Argument views: where each call keeps its length and flags -------------
// The MSG_* flags of a read or write: an argument, never the program's memory.
template <Call C, class... A>
inline int io_flags(const A&... a) {
  auto t = std::tie(a...);  // the arguments after the fd
  if constexpr (C == Call::recv || C == Call::send || C == Call::recvfrom || C == Call::sendto ||
                C == Call::recvmmsg || C == Call::sendmmsg)
    return std::get<2>(t);
  else if constexpr (C == Call::__recv_chk || C == Call::__recvfrom_chk)
    return std::get<3>(t);
  else if constexpr (C == Call::recvmsg || C == Call::sendmsg)
    return std::get<1>(t);
  else
    return 0;  // read, write, and their vector and fortified forms
}

// What a read or write asks for, said without reading the program's memory:
// a msghdr's or an iovec array's byte count stays where it is until a rule
// needs it (caller_memory.h).
template <Call C, class... A>
inline AskedLength asked_length(const A&... a) {
  auto t = std::tie(a...);
  AskedLength l;
  if constexpr (C == Call::recvmsg || C == Call::sendmsg) {
    l.vector = true;
    l.msg = std::get<0>(t);
  } else if constexpr (C == Call::readv || C == Call::writev) {
    l.vector = true;
    l.iov = std::get<0>(t);
    l.iovcnt = std::get<1>(t);
  } else {
    l.plain = std::get<1>(t);  // recvmmsg/sendmmsg: messages, not bytes
  }
  return l;
}

// Length and flags of a call that returned `ret`, for its record. Only a
// call that moved no byte needs the length (an end of stream is one where
// bytes were asked for); a failure's record uses the flags alone, and its
// msghdr or iovecs may be the very reason for it (EFAULT, EMSGSIZE). They
// are read directly only when the real call succeeded (`kernel_saw`); an
// injected end of stream, which the kernel never saw, reads them through it.
template <Call C, class R, class... A>
inline IoArgs io_args(R ret, bool kernel_saw, const A&... a) {
  std::size_t len = 0;
  if (ret >= 0) {
    AskedLength asked = asked_length<C>(a...);
    if (kernel_saw) len = asked.accepted_total();
    else if (!asked.get(&len)) len = 0;
  }
  return {len, io_flags<C>(a...)};
}

// Bytes moved by a successful call (recvmmsg/sendmmsg return messages).
template <Call C, class R, class... A>
inline uint64_t io_bytes(R ret, const A&... a) {
  if constexpr (C == Call::recvmmsg || C == Call::sendmmsg) {
    const mmsghdr* vec = std::get<0>(std::tie(a...));
    uint64_t t = 0;
    for (R i = 0; i < ret; ++i) t += vec[i].msg_len;
    return t;
  } else {
    return static_cast<uint64_t>(ret);
  }
}

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
  if (g_rules == nullptr && !g_log_expected) return io_fast<C, true>(fd, a...);
  return observe_io_full<C>(fd, nullptr, a...);
}

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
      else v = inject_call(C, fd_arg<C>(a...));
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
    if (__builtin_expect(r == 0 && !g_trace && C == Call::shutdown, 1)) return r;
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
    if (g_readiness && r == 0) epoll_registered(epfd, op, fd, ev);
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
