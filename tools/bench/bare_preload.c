// libbench_bare.so: the floor for an LD_PRELOAD interposer. It defines the
// calls libsockdiag intercepts and only forwards each to the next definition
// (libc), so that the benchmark can tell the cost of interposition itself
// (PLT to this library, one indirect call) from the cost of sockdiag's work.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

// Only the interposed names are exported (the library is built with hidden
// visibility).
#define HOOK __attribute__((visibility("default")))

// Resolved on first use, not in a constructor: other libraries' constructors
// may make these calls before ours runs. Two threads racing on the first call
// both store the same address.
static inline void *next(void **cache, const char *name) {
  void *fn = __atomic_load_n(cache, __ATOMIC_RELAXED);
  if (__builtin_expect(fn != NULL, 1)) return fn;
  fn = dlsym(RTLD_NEXT, name);
  if (!fn) {
    // Raw syscall: the write hook would come back here for its own address.
    static const char msg[] = "libbench_bare: dlsym(RTLD_NEXT) found no definition of a hooked call\n";
    syscall(SYS_write, 2, msg, sizeof msg - 1);
    abort();
  }
  __atomic_store_n(cache, fn, __ATOMIC_RELAXED);
  return fn;
}

#define NEXT(name) \
  __extension__({ static void *cache_; (__typeof__(&name))next(&cache_, #name); })

// The fortified entry points that -D_FORTIFY_SOURCE callers import instead of
// the plain names; glibc declares them only under fortify.
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *restrict addr_len);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
                const __sigset_t *ss, size_t fdslen);

HOOK int socket(int domain, int type, int protocol) {
  return NEXT(socket)(domain, type, protocol);
}
HOOK int socketpair(int domain, int type, int protocol, int fds[2]) {
  return NEXT(socketpair)(domain, type, protocol, fds);
}
HOOK int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  return NEXT(connect)(fd, addr, len);
}
HOOK int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  return NEXT(bind)(fd, addr, len);
}
HOOK int listen(int fd, int backlog) {
  return NEXT(listen)(fd, backlog);
}
HOOK int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len) {
  return NEXT(accept)(fd, addr, len);
}
HOOK int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags) {
  return NEXT(accept4)(fd, addr, len, flags);
}
HOOK ssize_t send(int fd, const void *buf, size_t n, int flags) {
  return NEXT(send)(fd, buf, n, flags);
}
HOOK ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
                    socklen_t len) {
  return NEXT(sendto)(fd, buf, n, flags, addr, len);
}
HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return NEXT(sendmsg)(fd, msg, flags);
}
HOOK int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags) {
  return NEXT(sendmmsg)(fd, msgs, n, flags);
}
HOOK ssize_t recv(int fd, void *buf, size_t n, int flags) {
  return NEXT(recv)(fd, buf, n, flags);
}
HOOK ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
  return NEXT(__recv_chk)(fd, buf, n, buflen, flags);
}
HOOK ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr,
                      socklen_t *restrict len) {
  return NEXT(recvfrom)(fd, buf, n, flags, addr, len);
}
HOOK ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
                            __SOCKADDR_ARG addr, socklen_t *restrict len) {
  return NEXT(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, len);
}
HOOK ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  return NEXT(recvmsg)(fd, msg, flags);
}
HOOK int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags,
                  struct timespec *timeout) {
  return NEXT(recvmmsg)(fd, msgs, n, flags, timeout);
}
HOOK ssize_t read(int fd, void *buf, size_t n) {
  return NEXT(read)(fd, buf, n);
}
HOOK ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  return NEXT(__read_chk)(fd, buf, n, buflen);
}
HOOK ssize_t write(int fd, const void *buf, size_t n) {
  return NEXT(write)(fd, buf, n);
}
HOOK ssize_t readv(int fd, const struct iovec *iov, int n) {
  return NEXT(readv)(fd, iov, n);
}
HOOK ssize_t writev(int fd, const struct iovec *iov, int n) {
  return NEXT(writev)(fd, iov, n);
}
HOOK int close(int fd) {
  return NEXT(close)(fd);
}
HOOK int close_range(unsigned int first, unsigned int last, int flags) {
  return NEXT(close_range)(first, last, flags);
}
HOOK void closefrom(int lowfd) {
  NEXT(closefrom)(lowfd);
}
HOOK int dup(int fd) {
  return NEXT(dup)(fd);
}
HOOK int dup2(int fd, int newfd) {
  return NEXT(dup2)(fd, newfd);
}
HOOK int dup3(int fd, int newfd, int flags) {
  return NEXT(dup3)(fd, newfd, flags);
}
// The optional argument is read as one pointer-sized word, as glibc reads it.
HOOK int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return NEXT(fcntl)(fd, cmd, arg);
}
HOOK int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return NEXT(fcntl64)(fd, cmd, arg);
}
HOOK int shutdown(int fd, int how) {
  return NEXT(shutdown)(fd, how);
}
HOOK int getsockopt(int fd, int level, int name, void *restrict value,
                    socklen_t *restrict len) {
  return NEXT(getsockopt)(fd, level, name, value, len);
}
HOOK int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  return NEXT(setsockopt)(fd, level, name, value, len);
}
HOOK int poll(struct pollfd *fds, nfds_t n, int timeout) {
  return NEXT(poll)(fds, n, timeout);
}
HOOK int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
  return NEXT(__poll_chk)(fds, n, timeout, fdslen);
}
HOOK int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
               const __sigset_t *mask) {
  return NEXT(ppoll)(fds, n, timeout, mask);
}
HOOK int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                     const __sigset_t *mask, size_t fdslen) {
  return NEXT(__ppoll_chk)(fds, n, timeout, mask, fdslen);
}
HOOK int select(int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
                struct timeval *restrict timeout) {
  return NEXT(select)(n, r, w, e, timeout);
}
HOOK int pselect(int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
                 const struct timespec *restrict timeout, const __sigset_t *restrict mask) {
  return NEXT(pselect)(n, r, w, e, timeout, mask);
}
HOOK int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
  return NEXT(epoll_ctl)(epfd, op, fd, event);
}
HOOK int epoll_wait(int epfd, struct epoll_event *events, int n, int timeout) {
  return NEXT(epoll_wait)(epfd, events, n, timeout);
}
HOOK int epoll_pwait(int epfd, struct epoll_event *events, int n, int timeout,
                     const __sigset_t *mask) {
  return NEXT(epoll_pwait)(epfd, events, n, timeout, mask);
}
HOOK int getaddrinfo(const char *restrict node, const char *restrict service,
                     const struct addrinfo *restrict hints, struct addrinfo **restrict res) {
  return NEXT(getaddrinfo)(node, service, hints, res);
}
