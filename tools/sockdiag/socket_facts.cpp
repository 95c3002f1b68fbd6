// A traced process's socket, seen through a copy (see socket_facts.h).
#include "socket_facts.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace sdcli {

namespace {

// glibc 2.36 has no wrappers for these: the raw system calls.
int pidfd_open(long pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_getfd(int pidfd, int fd) { return static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0)); }

}  // namespace

bool socket_facts(long pid, int fd, unsigned long inode, SocketFacts* out) {
  int errno_before = errno;
  int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    errno = errno_before;
    return false;
  }
  int copy = pidfd_getfd(pidfd, fd);
  close(pidfd);
  bool ok = false;
  struct stat st;
  if (copy >= 0 && fstat(copy, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode) {
    socklen_t len = sizeof(out->domain);
    if (getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &out->domain, &len) != 0) out->domain = 0;
    len = sizeof(out->type);
    if (getsockopt(copy, SOL_SOCKET, SO_TYPE, &out->type, &len) != 0) out->type = 0;
    out->local_len = sizeof(out->local);
    if (getsockname(copy, reinterpret_cast<sockaddr*>(&out->local), &out->local_len) != 0 ||
        out->local_len <= sizeof(sa_family_t))
      out->local_len = 0;
    ok = true;
  }
  if (copy >= 0) close(copy);
  errno = errno_before;
  return ok;
}

}  // namespace sdcli
