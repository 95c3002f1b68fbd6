// The observers' out-of-line half (observe.cpp): everything about a call's
// outcome that the inline hooks hand over, off the fast path.
#pragma once
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstddef>

#include "calls.h"
#include "fdtable.h"

namespace sd {

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
// A shutdown succeeded: the reads that then return 0 (SHUT_RD) and the
// writes that fail with EPIPE (SHUT_WR) are the program's own doing, not
// the peer's; the calls stalled in that direction are woken, as the kernel
// wakes blocked ones (inject_stall.h). Leaves errno alone.
void shut_down(int fd, int how);
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

}  // namespace sd
