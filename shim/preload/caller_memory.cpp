// Reading the program's memory safely (see caller_memory.h).
#include "caller_memory.h"
#include "self_ids.h"

#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sd {

bool kernel_accepted(Call call, long ret, int err) {
  if (ret >= 0) return true;
  if (call != Call::connect && call != Call::bind && call != Call::sendmsg && call != Call::recvmsg &&
      call != Call::writev && call != Call::readv)
    return false;
  // The kernel copies the address, the msghdr and the iovecs (EFAULT;
  // EINVAL or EMSGSIZE for their lengths and counts) after finding the fd
  // (EBADF; ENOTSOCK too on older kernels); EINVAL, EMSGSIZE and ENOTSOCK
  // are also answers given after the copy, which prove nothing. Every error
  // below comes from the protocol or the file, after the copy.
  switch (err) {
    case EINPROGRESS: case EALREADY: case EINTR: case EISCONN: case ECONNREFUSED: case ECONNRESET:
    case ECONNABORTED: case ETIMEDOUT: case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case EAGAIN:
    case EADDRINUSE: case EADDRNOTAVAIL: case EAFNOSUPPORT: case EPROTOTYPE: case EOPNOTSUPP: case EACCES:
    case EPERM: case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG: case EROFS: case ENOSPC:
    case EDQUOT: case EEXIST: case EIO: case EPIPE: case ENOTCONN: case EDESTADDRREQ: case ENOBUFS:
      return true;
    default:
      return false;
  }
}

bool copy_from_program(void* dst, const void* src, std::size_t n) {
  if (n == 0) return true;
  iovec local{dst, n};
  iovec remote{const_cast<void*>(src), n};
  int saved = errno;
  // Our own process: no ptrace permission is asked (same thread group).
  ssize_t got = process_vm_readv(self_pid(), &local, 1, &remote, 1, 0);
  errno = saved;
  return got == static_cast<ssize_t>(n);
}

bool copy_to_program(void* dst, const void* src, std::size_t n) {
  if (n == 0) return true;
  iovec local{const_cast<void*>(src), n};
  iovec remote{dst, n};
  int saved = errno;
  ssize_t got = process_vm_writev(self_pid(), &local, 1, &remote, 1, 0);
  errno = saved;
  return got == static_cast<ssize_t>(n);
}

bool copy_program_sockaddr(const sockaddr* addr, socklen_t len, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  // The kernel takes the length as an int: above sockaddr_storage, or
  // negative, is EINVAL before any byte is read.
  if (static_cast<int>(len) < 0 || len > sizeof(*out)) return false;
  return copy_from_program(out, addr, len);
}

bool copy_program_iov(const iovec* iov, long n, iovec* out, std::size_t cap, std::size_t* total) {
  // writev's EINVAL, sendmsg's EMSGSIZE: the kernel reads no entry.
  if (n < 0 || n > IOV_MAX) return false;
  std::size_t sum = 0;
  iovec chunk[64];
  for (long done = 0; done < n;) {
    std::size_t k = static_cast<std::size_t>(n - done) < 64 ? static_cast<std::size_t>(n - done) : 64;
    if (!copy_from_program(chunk, iov + done, k * sizeof(iovec))) return false;
    for (std::size_t i = 0; i < k; ++i) {
      // An entry above SSIZE_MAX is EINVAL; a total beyond what one call
      // moves is cut there by the kernel, not refused.
      if (chunk[i].iov_len > static_cast<std::size_t>(SSIZE_MAX)) return false;
      sum = chunk[i].iov_len > SIZE_MAX - sum ? SIZE_MAX : sum + chunk[i].iov_len;
      if (static_cast<std::size_t>(done) + i < cap) out[done + i] = chunk[i];
    }
    done += static_cast<long>(k);
  }
  *total = sum;
  return true;
}

bool AskedLength::get(std::size_t* out) const {
  if (!vector) {
    *out = plain;
    return true;
  }
  const iovec* v = iov;
  long n = iovcnt;
  if (msg) {
    msghdr copy;
    if (!copy_from_program(&copy, msg, sizeof(copy))) return false;
    v = copy.msg_iov;
    n = copy.msg_iovlen > static_cast<std::size_t>(IOV_MAX) ? -1 : static_cast<long>(copy.msg_iovlen);
  }
  return copy_program_iov(v, n, nullptr, 0, out);
}

std::size_t AskedLength::accepted_total() const {
  if (!vector) return plain;
  if (msg) return accepted_iov_total(msg->msg_iov, msg->msg_iovlen);
  return accepted_iov_total(iov, static_cast<std::size_t>(iovcnt));
}

}  // namespace sd
