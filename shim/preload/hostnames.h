// Names the program resolved with getaddrinfo, remembered for the addresses
// they gave, so that a record (and a `host=` rule) can name the peer by the
// name the program used.
#pragma once
#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>

namespace sd {

void remember_host(const char* name, const addrinfo* results);
// Copies the name remembered for `addr` into `out`; false when none is.
bool host_of(const sockaddr* addr, socklen_t len, char* out, std::size_t cap);

}  // namespace sd
