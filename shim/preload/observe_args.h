// Argument views: where each read and write keeps its length and flags, read
// from its arguments at compile time (never from the program's memory).
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <tuple>

#include "caller_memory.h"
#include "hook_group.h"
#include "interpose.h"
#include "observe_cold.h"

namespace sd {

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

}  // namespace sd
