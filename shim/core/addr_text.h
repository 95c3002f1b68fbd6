// A socket address as records and summaries show it, written without
// inet_ntop (it goes through sprintf) into a buffer of the caller's.
#pragma once
#include <sys/socket.h>

#include <cstddef>

namespace sd {

// "127.0.0.1:80", "[::1]:443", "/run/app.sock", "@abstract", "unnamed".
// Writes at most `cap` bytes including the NUL. Returns `out`.
char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap);

}  // namespace sd
