// The out-of-line side of the observers (see observe.h): tracking sockets as
// they are created, connected, duplicated and closed, and reporting failures.
#include "observe.h"

#include <arpa/inet.h>
#include <linux/close_range.h>
#include <sys/time.h>

#include "hostnames.h"
#include "inject_datagram.h"
#include "inject_slow_close.h"
#include "inject_stall.h"
#include "log.h"
#include "policy_sigpipe.h"
#include "report.h"
#include "summary.h"

namespace sd {
namespace {

// The plain failure of a call: its errno, and the address it named if any.
void report_error(Call call, int fd, long ret, int err, int retries, const sockaddr* addr = nullptr,
                  socklen_t addr_len = 0) {
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  f.code = err;
  f.retries = retries;
  f.addr = addr;
  f.addr_len = addr_len;
  report(f);
}

void note_peer_gone(Conn* c, int err) {
  if (c && (err == ECONNRESET || err == EPIPE || err == ETIMEDOUT || err == EHOSTUNREACH)) {
    uint64_t zero = 0;
    c->closed_peer_ns.compare_exchange_strong(zero, now_mono_ns(), std::memory_order_relaxed);
    c->set(cf_peer_closed);
  }
}

// recv, send and the like, as opposed to read, write and their vector and
// fortified forms, which serve every kind of file.
bool socket_only(Call call) {
  return call != Call::read && call != Call::readv && call != Call::__read_chk && call != Call::write &&
         call != Call::writev;
}

void io_failed(Call call, int fd, long ret, int err, IoArgs io, int retries) {
  Conn* c = find_conn(fd);
  // Expected flow, as on the fast path: below debug level, counted only.
  if (err == EAGAIN && config().level < Level::debug && would_block_as_expected(call, c)) return;
  // Failures on files and pipes are not ours to report (classification may
  // ask the kernel: this is the cold path), but a bad descriptor is a socket
  // bug when the call only works on sockets (recv on a closed or wrong fd),
  // or when the fd was a socket the program closed (read after close).
  bool closed_socket = c && c->get_kind() == Kind::closed;
  if (!is_socket(kind_of(fd)) && !((closed_socket || socket_only(call)) && (err == EBADF || err == ENOTSOCK)))
    return;
  uint64_t gone_before = c ? c->closed_peer_ns.load(std::memory_order_relaxed) : 0;
  // EPIPE after the program's own SHUT_WR: the kernel's answer, not the peer's.
  bool own_shutdown = err == EPIPE && group_of(call) == Group::output && c && c->has(cf_shut_wr);
  if (!own_shutdown) note_peer_gone(c, err);
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  f.code = err;
  f.retries = retries;
  if (closed_socket) f.kind = Kind::closed;  // kind_of above took the number for what it is now
  if (io.flags & MSG_DONTWAIT) f.situation |= sit_nonblocking;
  if (own_shutdown) f.situation |= sit_own_shutdown;
  SigpipeDecision sigpipe{false, nullptr};
  // A program's own MSG_NOSIGNAL: the kernel raises nothing, nor do we.
  if (err == EPIPE && group_of(call) == Group::output && !(io.flags & MSG_NOSIGNAL)) {
    sigpipe = sigpipe_after_epipe();
    f.note = sigpipe.note;
  }
  if (gone_before) f.peer_gone_ns = gone_before;
  report(f);
  // After the record, so that a program killed by it leaves the record behind.
  if (sigpipe.deliver) deliver_sigpipe();
}

}  // namespace

void trace_call(Call call, int fd, long ret) {
  // Trace is about sockets: reads, writes and closes of files are not shown.
  if (fd >= 0 && !is_socket(kind_of(fd))) return;
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  report(f);
}

void input_failed(Call call, int fd, long ret, int err, IoArgs io, int retries) {
  if (ret < 0) return io_failed(call, fd, ret, err, io, retries);
  // 0 bytes: end of stream only when bytes were asked for on a stream socket
  // (an empty datagram, or a zero-length read, is not an EOF). Reported once
  // per connection; its level is info, so a fd never seen as a socket is only
  // classified when info records are wanted.
  if (io.len == 0) return;
  Conn* c = find_conn(fd);
  Kind k = c ? c->get_kind() : Kind::unknown;
  if (is_unclassified(k) && config().level >= Level::info) k = kind_of(fd);
  if (!is_socket(k) || is_datagram(k)) {
    if (g_trace) trace_call(call, fd, ret);
    return;
  }
  c = find_conn(fd);
  if (c && (c->flags.fetch_or(cf_eof_seen, std::memory_order_relaxed) & cf_eof_seen)) {
    if (g_trace) trace_call(call, fd, ret);
    return;
  }
  Outcome f{call};
  if (c) {
    uint64_t zero = 0;
    c->closed_peer_ns.compare_exchange_strong(zero, now_mono_ns(), std::memory_order_relaxed);
    // A reset or timeout already returned: the 0 that follows is no FIN.
    if (c->has(cf_peer_closed)) f.situation |= sit_after_error;
    if (c->has(cf_shut_rd)) f.situation |= sit_own_shutdown;
  }
  f.fd = fd;
  f.ret = 0;
  f.code_kind = CodeKind::event;
  f.code = ev_eof;
  report(f);
}

void output_failed(Call call, int fd, long ret, int err, IoArgs io, int retries) {
  if (ret < 0) return io_failed(call, fd, ret, err, io, retries);
  if (g_trace) trace_call(call, fd, ret);
}

std::size_t limit_iov(iovec* iov, std::size_t n, std::size_t max) {
  std::size_t used = 0;
  for (; used < n && max > 0; ++used) {
    if (iov[used].iov_len > max) iov[used].iov_len = max;
    max -= iov[used].iov_len;
  }
  return used;
}

ssize_t write_to_non_socket(int fd, const void* buf, size_t n) {
  forget_fd(fd);
  return real<Call::write>()(fd, buf, n);
}

ssize_t writev_as_sendmsg(int fd, const iovec* iov, int iovcnt, Kind k) {
  // A count outside 1..IOV_MAX stays a writev: a negative or too large one
  // is writev's EINVAL where sendmsg says EMSGSIZE, and none at all returns
  // 0 without the socket's errors (EPIPE, EDESTADDRREQ) that sendmsg gives.
  if (iovcnt <= 0 || iovcnt > IOV_MAX) return real<Call::writev>()(fd, iov, iovcnt);
  int errno_before = errno;
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  ssize_t r = real<Call::sendmsg>()(fd, &msg, MSG_NOSIGNAL | write_eor(fd, k));
  if (r < 0 && errno == ENOTSOCK) {
    forget_fd(fd);
    return real<Call::writev>()(fd, iov, iovcnt);
  }
  // iovecs of no byte: writev returns 0 without asking the socket, where
  // sendmsg gives its errors (EPIPE, EDESTADDRREQ). The kernel has read the
  // iovecs when the socket answered.
  if (r < 0 && kernel_accepted(Call::writev, r, errno) && accepted_iov_total(iov, static_cast<std::size_t>(iovcnt)) == 0) {
    errno = errno_before;
    return 0;
  }
  return r;
}

void socket_done(Call call, int ret, int err, int domain, int type) {
  if (ret >= 0) {
    track_socket(ret, kind_from(domain, type), 0, now_mono_ns());
    if (g_trace) trace_call(call, ret, ret);
    return;
  }
  report_error(call, -1, ret, err, 0);
}

void socketpair_done(int ret, int err, int domain, int type, const int sv[2]) {
  if (ret == 0) {
    uint64_t now = now_mono_ns();
    Kind k = kind_from(domain, type);
    track_socket(sv[0], k, cf_established, now);
    track_socket(sv[1], k, cf_established, now);
    if (g_trace) trace_call(Call::socketpair, sv[0], ret);
    return;
  }
  report_error(Call::socketpair, -1, ret, err, 0);
}

void connect_done(Call call, int fd, long ret, int err, const sockaddr* addr, socklen_t len, int retries) {
  // A connect the kernel refused before taking its address (EFAULT,
  // EINVAL, EBADF...) named nothing it read, and changed nothing: its
  // record says the call, the fd and the error. A send with MSG_FASTOPEN
  // gets a connect's answers.
  bool sends = call != Call::connect;
  if (!kernel_accepted(Call::connect, ret, err)) {
    report_error(call, fd, ret, err, retries);
    return;
  }
  Conn* c = get_conn(fd);
  if (c) {
    set_peer(c, addr, len);
    c->clear(cf_connect_pending | cf_err_pending | cf_eof_seen | cf_peer_closed);
    clear_local(fd);
    if (ret >= 0) {
      c->set(cf_established);
      learn_local(fd);
    } else if (err == EINPROGRESS) {
      c->set(cf_connect_pending);
    }
    // The connection's history starts with the attempt, not with socket().
    c->opened_ns.store(now_mono_ns(), std::memory_order_relaxed);
  }
  if (ret >= 0 && !g_trace) return;
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  f.code = ret >= 0 ? 0 : err;
  f.retries = retries;
  f.addr = addr;
  f.addr_len = len;
  f.connects = sends;
  report(f);
}

void shut_down(int fd, int how) {
  Conn* c = get_conn(fd);
  if (!c) return;
  c->set(how == SHUT_RD ? cf_shut_rd : how == SHUT_WR ? cf_shut_wr : cf_shut_rd | cf_shut_wr);
  if (c->has(cf_stalled)) {
    int err = errno;
    stall_shutdown(fd, c, how);
    errno = err;
  }
}

void sockop_done(Call call, int fd, int ret, int err, const sockaddr* addr, socklen_t len) {
  if (ret == 0) {
    if (call == Call::listen || call == Call::bind)
      if (Conn* c = get_conn(fd)) c->set(call == Call::listen ? cf_listening : cf_bound);
    if (g_trace) trace_call(call, fd, ret);
    return;
  }
  // The address bind asked for, if the kernel took it.
  if (!kernel_accepted(call, ret, err)) addr = nullptr;
  report_error(call, fd, ret, err, 0, addr, addr ? len : 0);
}

void accept_done(Call call, int listen_fd, int ret, int err, int retries) {
  if (ret >= 0) {
    Conn* l = find_conn(listen_fd);
    Kind k = l ? l->get_kind() : Kind::unknown;
    if (!is_socket(k)) k = kind_of(listen_fd);
    // An accepted socket inherits the listener's SO_RCVTIMEO/SO_SNDTIMEO.
    uint32_t flags = cf_established | (l ? l->flags.load(std::memory_order_relaxed) & (cf_rcvtimeo | cf_sndtimeo) : 0);
    track_socket(ret, k, flags, now_mono_ns());
    Conn* c = find_conn(ret);
    // Asked of the kernel, not read from the program's buffer: the length
    // accept writes back is the address's, which may be more than the
    // buffer held. Remembered now: after a reset the kernel no longer tells.
    if (is_inet(k)) {
      sockaddr_storage ss;
      socklen_t ss_len = sizeof(ss);
      if (getpeername(ret, reinterpret_cast<sockaddr*>(&ss), &ss_len) == 0)
        set_peer(c, reinterpret_cast<sockaddr*>(&ss), ss_len);
      learn_local(ret);
    }
    if (g_trace) trace_call(call, ret, ret);
    return;
  }
  report_error(call, listen_fd, ret, err, retries);
}

bool close_begin(int fd, Kind* was) {
  *was = Kind::unknown;
  if (is_log_fd(fd) || is_blackhole_fd(fd) || is_slow_close_fd(fd)) {
    // The program never opened this fd (a close-every-fd loop): to it, it is
    // not open.
    errno = EBADF;
    return true;
  }
  log_fd_closing(fd);
  datagram_close(fd);  // datagrams held back for the socket go out (sent) or are lost with it (received)
  Conn* c = find_conn(fd);
  if (c) *was = c->get_kind();
  if (c && is_socket(*was) && c->has(cf_err_pending | cf_connect_pending)) {
    // A failed non-blocking connect that the program closes without asking
    // why: reading SO_ERROR now costs it nothing, the socket is going away.
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    int got = real<Call::getsockopt>()(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    // An injected failure is the one pending, whatever stands for it.
    const Rule* rule = nullptr;
    if (g_rules)
      if (int injected = take_injected_so_error(c, &rule)) got = 0, so_error = injected;
    if (got == 0 && so_error) {
      bool connecting = c->has(cf_connect_pending);
      Outcome f{connecting ? Call::connect : Call::close};
      f.fd = fd;
      // A connect's record has the connect's own result (-1, EINPROGRESS
      // then); a close's, close's (0: a socket's close has no flush that
      // could fail).
      f.ret = connecting ? -1 : 0;
      f.code = so_error;
      f.situation = sit_async;
      // A real reset answering a SYN is ECONNREFUSED: ECONNRESET on a socket
      // still connecting is the kernel's own, set when the program shut it
      // down without an answer (tcp_disconnect).
      if (connecting && so_error == ECONNRESET) f.situation |= sit_abandoned;
      f.via = "SO_ERROR pending at close";
      if (rule) f.rule = rule->text;
      report(f);
    }
  }
  // Forgotten before the real close: once closed, another thread may get
  // the same number from socket() at once.
  if (is_socket(*was)) mark_closed(fd);
  else forget_fd(fd);
  return false;
}

void close_done(Call call, int fd, int ret, int err, Kind was) {
  if (ret == 0) {
    if (g_trace && is_socket(was)) {
      Outcome f{call};
      f.fd = fd;
      f.ret = ret;
      f.kind = was;  // the fd is gone: the kernel can no longer say what it was
      report(f);
    }
    return;
  }
  // Only sockets: EBADF for a number that was never a socket is a daemon
  // closing every fd, or not our business.
  if (!is_socket(was) && !(was == Kind::closed && err == EBADF)) return;
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  f.code = err;
  // A double close: the number names no socket now, nor any peer (the
  // entry may already be forgotten, its peer still cached).
  if (was == Kind::closed) f.kind = Kind::closed;
  report(f);
}

bool close_range_split(unsigned first, unsigned last, int flags, int* ret) {
  if (!(flags & CLOSE_RANGE_CLOEXEC)) forget_range(first, last);
  log_fds_closing(first, last, flags);
  int lfd = log_fd();
  if (lfd < 0 || static_cast<unsigned>(lfd) < first || static_cast<unsigned>(lfd) > last) return false;
  // The range covers the log fd: close around it.
  auto cr = real<Call::close_range>();
  int r = 0;
  if (static_cast<unsigned>(lfd) > first) r = cr(first, static_cast<unsigned>(lfd) - 1, flags);
  if (r == 0 && static_cast<unsigned>(lfd) < last) r = cr(static_cast<unsigned>(lfd) + 1, last, flags);
  *ret = r;
  return true;
}

void getsockopt_done(int fd, int ret, int err, int level, int name, void* val, const socklen_t* len) {
  Conn* c = find_conn(fd);
  if (ret == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= sizeof(int)) {
    int so_error = *static_cast<int*>(val);
    const Rule* rule = nullptr;
    // An injected connect failure is read here as the kernel's would be
    // (the outcome of a redirected one is the kernel's, marked by report).
    // A redirected attempt's refusal that has not come yet is not its error.
    if (g_rules && c && (so_error != 0 || c->has(cf_inject_unconnected)))
      if (int injected = take_injected_so_error(c, &rule)) *static_cast<int*>(val) = so_error = injected;
    bool pending = c && c->has(cf_connect_pending);
    if (c) c->clear(cf_err_pending | cf_connect_pending);
    if (so_error == 0) {
      // The non-blocking connect completed.
      if (pending) {
        c->set(cf_established);
        learn_local(fd);
      }
      if (g_trace) trace_call(Call::getsockopt, fd, ret);
      return;
    }
    note_peer_gone(c, so_error);
    Outcome f{pending ? Call::connect : Call::getsockopt};
    f.fd = fd;
    // The connect returned -1 (EINPROGRESS) to the program; a getsockopt
    // that found an error of an established connection returned 0.
    f.ret = pending ? -1 : 0;
    f.code = so_error;
    f.situation = pending ? uint32_t{sit_async} : 0u;
    f.via = "SO_ERROR";
    if (rule) f.rule = rule->text;
    report(f);
    return;
  }
  if (ret == 0) {
    if (g_trace) trace_call(Call::getsockopt, fd, ret);
    return;
  }
  report_error(Call::getsockopt, fd, ret, err, 0);
}

void setsockopt_done(int fd, int ret, int err, int level, int name, const void* val, socklen_t len) {
  if (ret == 0) {
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
      // Remember only that a timeout may be set: EAGAIN's meaning is then
      // asked of the kernel when it happens.
      bool on = !(val && len >= sizeof(timeval) && static_cast<const timeval*>(val)->tv_sec == 0 &&
                  static_cast<const timeval*>(val)->tv_usec == 0);
      if (Conn* c = get_conn(fd)) {
        uint32_t bit = name == SO_RCVTIMEO ? cf_rcvtimeo : cf_sndtimeo;
        if (on) c->set(bit);
        else c->clear(bit);
      }
    }
    if (g_trace) trace_call(Call::setsockopt, fd, ret);
    return;
  }
  report_error(Call::setsockopt, fd, ret, err, 0);
}

namespace {
// POLLERR/POLLHUP on a socket. The error itself is reported by whichever call
// reads it next (SO_ERROR, recv, send, or close): reading it here would take
// it away from the program.
void socket_event(Call call, int fd, short revents) {
  Conn* c = find_conn(fd);
  if (!c || !is_socket(c->get_kind())) return;
  if (c->has(cf_connect_pending)) {
    // A non-blocking connect failed: its reason is reported, as a connect
    // failure, by the SO_ERROR read (or the close) that follows.
    if (revents & POLLERR) c->set(cf_err_pending);
    return;
  }
  if (revents & POLLERR) {
    uint32_t before = c->flags.fetch_or(cf_err_pending, std::memory_order_relaxed);
    if (before & cf_err_pending) return;  // once per pending error, not per wakeup
  } else if (c->flags.fetch_or(cf_eof_seen, std::memory_order_relaxed) & cf_eof_seen) {
    return;  // hang-up already reported (as EOF or POLLHUP)
  }
  Outcome f{call};
  f.fd = fd;
  f.ret = revents;
  f.code_kind = CodeKind::event;
  f.code = (revents & POLLERR) ? ev_pollerr : ev_pollhup;
  f.via = call_name(call);
  report(f);
}
}  // namespace

// A socket whose failed connect was injected is really unconnected, which
// the kernel reports as POLLOUT|POLLHUP: the failure adds POLLERR, as a real
// failed connect has.
bool injected_failure_pending(int fd) {
  Conn* c = g_rules ? find_conn(fd) : nullptr;
  return c && c->has(cf_inject_pending);
}

void poll_events(Call call, pollfd* fds, nfds_t n, int ready) {
  int left = ready;
  for (nfds_t i = 0; i < n && left > 0; ++i) {
    if (!fds[i].revents) continue;
    --left;
    if (injected_failure_pending(fds[i].fd)) fds[i].revents |= POLLERR;
    if (fds[i].revents & (POLLERR | POLLHUP)) socket_event(call, fds[i].fd, fds[i].revents);
  }
  if (g_trace) trace_call(call, -1, ready);
}

void epoll_events(Call call, epoll_event* ev, int ready) {
  for (int i = 0; i < ready; ++i) {
    if (!(ev[i].events & (EPOLLERR | EPOLLHUP))) continue;
    int fd = fd_of_epoll_data(ev[i].data.u64);
    if (fd >= 0 && injected_failure_pending(fd)) ev[i].events |= EPOLLERR;
    if (fd >= 0)
      socket_event(call, fd, static_cast<short>(((ev[i].events & EPOLLERR) ? POLLERR : 0) |
                                                ((ev[i].events & EPOLLHUP) ? POLLHUP : 0)));
  }
  if (g_trace) trace_call(call, -1, ready);
}

void wait_failed(Call call, int ret, int err, int retries) {
  report_error(call, -1, ret, err, retries);
}

void epoll_ctl_done(int ret, int op, int fd, const epoll_event* ev) {
  if (ret == 0 && ev && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD)) {
    Conn* c = find_conn(fd);
    if (c && is_socket(c->get_kind())) set_epoll_data(fd, ev->data.u64);
  }
  if (g_trace) trace_call(Call::epoll_ctl, fd, ret);
}

void getaddrinfo_done(int ret, int err, const char* node, addrinfo* const* res) {
  if (ret == 0) {
    if (res) remember_host(node, *res);
    if (g_trace) {
      Outcome f{Call::getaddrinfo};
      f.ret = ret;
      f.host = node;
      report(f);
    }
    return;
  }
  Outcome f{Call::getaddrinfo};
  f.ret = ret;
  f.host = node;
  // EAI_SYSTEM leaves the real reason in errno.
  f.code_kind = ret == EAI_SYSTEM ? CodeKind::errno_code : CodeKind::gai;
  f.code = ret == EAI_SYSTEM ? err : ret;
  // A numeric address asked for in the other family: the program is trying
  // each family in turn.
  unsigned char numeric[sizeof(in6_addr)];
  if (ret == EAI_ADDRFAMILY && node &&
      (inet_pton(AF_INET, node, numeric) == 1 || inet_pton(AF_INET6, node, numeric) == 1))
    f.situation |= sit_probe;
  report(f);
}

void dup_begin(Call, int newfd) {
  // dup2/dup3 onto the log fd: the program names that number on purpose, so
  // the log moves out of its way first.
  log_evacuate(newfd);
}

void dup_done(Call call, int fd, int ret, int err) {
  log_dup_done();
  if (ret >= 0) {
    if (ret != fd) copy_fd(fd, ret);
    if (g_trace) trace_call(call, ret, ret);
    return;
  }
  report_error(call, fd, ret, err, 0);
}

void libc_fds_begin(Call call, int fd) {
  // fclose(stderr) ends the stderr log as close(2) does; freopen of stderr,
  // daemon and login_tty replace fd 2 as dup2 does, and the log follows.
  if (call == Call::fclose) log_fd_closing(fd);
  else if (call != Call::freopen && call != Call::freopen64) log_evacuate(STDERR_FILENO);
  else if (fd == STDERR_FILENO) log_evacuate(fd);
}

void libc_fds_done(Call call, int fd) {
  if (call == Call::daemon || call == Call::login_tty) forget_range(0, STDERR_FILENO);
  if (fd >= 0) forget_fd(fd);
  log_dup_done();
}

}  // namespace sd
