// TEST-ONLY preload stub, never installed: makes ECONNABORTED from accept
// happen on demand. Linux hardly ever returns it: a loopback connection reset
// while it waits in the accept queue is handed to accept as a normal socket
// whose recv then fails with ECONNRESET (checked on Linux 6.18, TCP and unix
// stream). So the ECONNABORTED tests load this library AFTER libsockdiag:
//   LD_PRELOAD=libsockdiag.so:libtest_stub_econnaborted.so
// libsockdiag's dlsym(RTLD_NEXT, "accept") then binds to the stub's accept.
// The first accept/accept4 of the process takes the next real connection,
// aborts it (RST) and fails with ECONNABORTED, the way a connection that
// died in the accept queue looks on systems that report it. Every later call
// is the real one.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*accept4_fn)(int, struct sockaddr*, socklen_t*, int);

static atomic_int fired;

static int stub_accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  accept4_fn real = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  if (atomic_exchange(&fired, 1)) return real(fd, addr, len, flags);
  int victim = real(fd, NULL, NULL, SOCK_CLOEXEC);
  if (victim < 0) return victim;
  struct linger lg = {1, 0};
  setsockopt(victim, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(victim);
  errno = ECONNABORTED;
  return -1;
}

__attribute__((visibility("default"))) int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  return stub_accept4(fd, addr, len, 0);
}

__attribute__((visibility("default"))) int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  return stub_accept4(fd, addr, len, flags);
}
