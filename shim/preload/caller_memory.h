// The program's memory behind a call's pointers. A pointer the kernel
// refused (EFAULT), or never looked at because it refused the call first
// (EBADF, EINVAL, EMSGSIZE...), may be unmapped: reading it would turn the
// program's error return into a SIGSEGV of ours. So the library reads the
// program's memory directly only where the kernel has accepted it, and
// before a call (an injection rule that needs a length or an address) only
// through the kernel, which answers EFAULT where a load would fault.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>

#include "interpose.h"

namespace sd {

// After a call returned `ret` with errno `err`: whether the kernel had
// copied in the memory that the call's pointer arguments name. Success
// proves it; after a failure only the errors that the kernel gives after
// the copy do (connect, bind, the msghdr and iovec calls: the protocol's
// own answers).
bool kernel_accepted(Call, long ret, int err);

// Copies `n` bytes of the program's memory at `src` through the kernel.
// False when any of them is not readable (nothing is then known of them).
bool copy_from_program(void* dst, const void* src, std::size_t n);
// The other way: false when the program's memory at `dst` is not writable.
bool copy_to_program(void* dst, const void* src, std::size_t n);

// The address a connect names, copied as the kernel copies it (at most a
// sockaddr_storage; the rest of `out` zeroed). False where the kernel would
// refuse it before reading it (a length above sockaddr_storage: EINVAL) or
// could not read it (EFAULT).
bool copy_program_sockaddr(const sockaddr* addr, socklen_t len, sockaddr_storage* out);

// The first entries of an iovec array, copied as the kernel would take
// them: false when the kernel would refuse the array (a count outside
// 0..IOV_MAX, entries it cannot read, an entry above SSIZE_MAX). `*total` is
// the byte count of all `n` entries; `out` receives the first `cap` of them.
bool copy_program_iov(const iovec* iov, long n, iovec* out, std::size_t cap, std::size_t* total);

// What a read or write asks for, for the rules that need it before the
// call (a short transfer, a bandwidth limit): a plain length, or the
// program's iovec array (a msghdr's), read only through the kernel and
// only when a rule asks.
struct AskedLength {
  std::size_t plain = 0;
  const iovec* iov = nullptr;   // readv/writev
  long iovcnt = 0;
  const msghdr* msg = nullptr;  // recvmsg/sendmsg
  bool vector = false;
  // False when the kernel would refuse the call's memory or counts: the
  // call is then made as it is and fails as it would.
  bool get(std::size_t* out) const;
  // The same, read directly: only once the kernel has accepted the memory.
  std::size_t accepted_total() const;
};

// The byte count of an iovec array the kernel has accepted, read directly.
inline std::size_t accepted_iov_total(const iovec* iov, std::size_t n) {
  std::size_t t = 0;
  for (std::size_t i = 0; i < n; ++i) t += iov[i].iov_len;
  return t;
}

}  // namespace sd
