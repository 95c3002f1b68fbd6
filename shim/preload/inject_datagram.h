// Datagram faults (drop, duplicate, reorder, truncate: rules.h) on UDP and
// unix datagram sockets, made the way a network makes them:
// - drop: a sent datagram is never sent, yet the send says it went (the
//   kernel says so of a datagram the network loses); a received one is
//   consumed and never seen: a wait (poll, select, epoll) does not wake for
//   it (a rule on every input call is asked by the wait), and a read goes
//   on to the next datagram, waiting for it as it would (EAGAIN when
//   non-blocking and none is left);
// - duplicate: sent twice; or received and left queued (MSG_PEEK), so that
//   the next read gets the same datagram again, from the same address;
// - reorder: the datagram is held back in a fixed pool until N later ones
//   passed or for a time, then sent or handed to a read; a held sent one
//   goes out at the socket's next call after its time, at its time while
//   the program waits in poll, select or epoll, at close or exit at the
//   latest;
// - truncate: cut to SIZE bytes as a short buffer cuts it (MSG_TRUNC).
// Each datagram is one call number for nth/every/prob/times: a read that
// meets a dropped datagram asks the rules again for the next one, and
// sendmmsg/recvmmsg ask them per message.
// Everything here is reachable from a signal handler: no malloc, no lock
// (the pool's slots are claimed with atomics).
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <cstdint>
#include <tuple>

#include "caller_memory.h"
#include "fdtable.h"
#include "interpose.h"
#include "rules.h"

namespace sd {

// Held datagrams at most, per process, and the largest one held (a
// datagram that finds no room passes in order, and its record says so).
constexpr unsigned kHeldDatagrams = 32;
constexpr std::size_t kHeldDatagramBytes = 65536;

// One datagram call, as sendmsg/recvmsg see it: `m` points to the
// program's memory. Return what the program's call returns (errno set).
ssize_t datagram_send(Call, int fd, Conn*, const Rule*, const msghdr* m, int flags);
ssize_t datagram_recv(Call, int fd, Conn*, const Rule*, msghdr* m, int flags);
int datagram_sendmmsg(Call, int fd, Conn*, const Rule* first, mmsghdr* vec, unsigned vlen, int flags);
int datagram_recvmmsg(Call, int fd, Conn*, const Rule* first, mmsghdr* vec, unsigned vlen, int flags,
                      const timespec* timeout);

// For a wait that found `fd` readable (inject_readiness.h): what the
// kernel has for a read: a datagram, nothing, or an error (a pending
// socket error, which a read would take before any datagram).
enum class DatagramQueue : uint8_t { ready, empty, error };
DatagramQueue datagram_queue(int fd);
// The rule `rule` drops the datagram the kernel has for `fd`: taken now,
// without waiting, and recorded as the wait's. False: none was there.
bool drop_ready_datagram(Call wait, int fd, Conn*, const Rule* rule);

// Whether datagrams are held for `fd` (its calls then take datagram_*,
// which count the datagrams that overtake them).
bool datagrams_held(int fd);
// A held received datagram: when it is due for a read (CLOCK_MONOTONIC ns,
// 1: due now; 0: none due by time or count yet). The waits report the
// socket readable then (inject_readiness.h).
uint64_t held_datagram_due(int fd);
// For a wait: sends the held datagrams whose time (reorder=DURATION) has
// come, of any socket; when the next is due (CLOCK_MONOTONIC ns; kNever:
// none held for a time).
uint64_t datagram_send_wake(uint64_t now);
// `fd` is being closed: its held sent datagrams go out now; held received
// ones are lost with the socket (recorded).
void datagram_close(int fd);
// The process ends: every held sent datagram goes out.
void datagram_flush_all();
// In a forked child: the held datagrams are the parent's to send or hand out.
void datagram_after_fork();

// The hook's arguments as one datagram call (the template keeps the
// arguments' types; the work is done out of line above).
template <Call C, class... A>
auto datagram_call(int fd, Conn* c, const Rule* rule, A... a) {
  using R = decltype(real<C>()(fd, a...));
  auto t = std::make_tuple(a...);
  msghdr m{};
  iovec one;
  if constexpr (C == Call::send || C == Call::sendto || C == Call::write) {
    one = iovec{const_cast<void*>(static_cast<const void*>(std::get<0>(t))), std::get<1>(t)};
    m.msg_iov = &one;
    m.msg_iovlen = 1;
    int flags = 0;
    if constexpr (C != Call::write) flags = std::get<2>(t);
    if constexpr (C == Call::sendto) {
      m.msg_name = const_cast<sockaddr*>(std::get<3>(t));
      m.msg_namelen = std::get<4>(t);
    }
    return static_cast<R>(datagram_send(C, fd, c, rule, &m, flags));
  } else if constexpr (C == Call::writev) {
    m.msg_iov = const_cast<iovec*>(std::get<0>(t));
    m.msg_iovlen = static_cast<std::size_t>(std::get<1>(t) < 0 ? 0 : std::get<1>(t));
    if (std::get<1>(t) < 0) return real<C>()(fd, a...);  // the kernel's EINVAL
    return static_cast<R>(datagram_send(C, fd, c, rule, &m, 0));
  } else if constexpr (C == Call::sendmsg) {
    if (!copy_from_program(&m, std::get<0>(t), sizeof(m))) return real<C>()(fd, a...);  // its EFAULT
    return static_cast<R>(datagram_send(C, fd, c, rule, &m, std::get<1>(t)));
  } else if constexpr (C == Call::sendmmsg) {
    return static_cast<R>(datagram_sendmmsg(C, fd, c, rule, std::get<0>(t), std::get<1>(t), std::get<2>(t)));
  } else if constexpr (C == Call::recvmmsg) {
    return static_cast<R>(datagram_recvmmsg(C, fd, c, rule, std::get<0>(t), std::get<1>(t), std::get<2>(t),
                                            std::get<3>(t)));
  } else if constexpr (C == Call::recvmsg) {
    msghdr* program = std::get<0>(t);
    if (!copy_from_program(&m, program, sizeof(m))) return real<C>()(fd, a...);
    R r = static_cast<R>(datagram_recv(C, fd, c, rule, &m, std::get<1>(t)));
    // What the kernel writes back (name and control lengths, flags).
    if (r >= 0 && !copy_to_program(program, &m, sizeof(m))) {
      errno = EFAULT;
      return R(-1);
    }
    return r;
  } else if constexpr (C == Call::readv) {
    if (std::get<1>(t) < 0) return real<C>()(fd, a...);
    m.msg_iov = const_cast<iovec*>(std::get<0>(t));
    m.msg_iovlen = static_cast<std::size_t>(std::get<1>(t));
    return static_cast<R>(datagram_recv(C, fd, c, rule, &m, 0));
  } else {
    // recv, recvfrom, read and their fortified forms: (buf, len[, buflen], flags[, addr, addrlen]).
    constexpr bool chk = C == Call::__recv_chk || C == Call::__recvfrom_chk || C == Call::__read_chk;
    // The fortified form's own check (a buffer shorter than said) aborts.
    if constexpr (chk)
      if (std::get<1>(t) > std::get<2>(t)) return real<C>()(fd, a...);
    one = iovec{std::get<0>(t), std::get<1>(t)};
    m.msg_iov = &one;
    m.msg_iovlen = 1;
    int flags = 0;
    if constexpr (C == Call::recv || C == Call::recvfrom) flags = std::get<2>(t);
    if constexpr (C == Call::__recv_chk || C == Call::__recvfrom_chk) flags = std::get<3>(t);
    if constexpr (C == Call::recvfrom || C == Call::__recvfrom_chk) {
      constexpr std::size_t at = C == Call::recvfrom ? 3 : 4;
      sockaddr* addr = std::get<at>(t);
      socklen_t* alen = std::get<at + 1>(t);
      socklen_t len = 0;
      if (addr && alen && !copy_from_program(&len, alen, sizeof(len))) return real<C>()(fd, a...);
      m.msg_name = addr && alen ? addr : nullptr;
      m.msg_namelen = m.msg_name ? len : 0;
      R r = static_cast<R>(datagram_recv(C, fd, c, rule, &m, flags));
      if (r >= 0 && m.msg_name && !copy_to_program(alen, &m.msg_namelen, sizeof(m.msg_namelen))) {
        errno = EFAULT;
        return R(-1);
      }
      return r;
    } else {
      return static_cast<R>(datagram_recv(C, fd, c, rule, &m, flags));
    }
  }
}

}  // namespace sd
