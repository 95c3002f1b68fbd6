// An inet address (IPv4 or IPv6, with its port) packed into words that fit
// atomics: how the connection table keeps a connection's peer and local
// address (fdtable), and the counters a peer's failures (counter_table.h).
// One type, so that the packing and its inverse are written once. Inline:
// a connect packs its peer on the hooked path.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace sd {

struct PeerKey {
  uint64_t words[2] = {0, 0};  // the address; IPv4 in the first 4 bytes
  uint32_t meta = 0;           // family << 16 | port (host order); 0: none

  int family() const { return static_cast<int>(meta >> 16); }

  // `addr` packed into `out`; false (words zero, meta untouched) for other
  // families and for a length too short for the family's address.
  static bool pack(const sockaddr* addr, socklen_t len, PeerKey* out) {
    out->words[0] = out->words[1] = 0;
    if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      std::memcpy(out->words, &in->sin_addr, 4);
      out->meta = (AF_INET << 16) | ntohs(in->sin_port);
      return true;
    }
    if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      std::memcpy(out->words, &in6->sin6_addr, 16);
      out->meta = (AF_INET6 << 16) | ntohs(in6->sin6_port);
      return true;
    }
    return false;
  }

  // The address as a sockaddr (IPv6 for any family but AF_INET); its length.
  socklen_t unpack(sockaddr_storage* out) const {
    std::memset(out, 0, sizeof(*out));
    uint16_t port = htons(static_cast<uint16_t>(meta & 0xffff));
    if (family() == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(out);
      in->sin_family = AF_INET;
      in->sin_port = port;
      std::memcpy(&in->sin_addr, words, 4);
      return sizeof(sockaddr_in);
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    std::memcpy(&in6->sin6_addr, words, 16);
    return sizeof(sockaddr_in6);
  }
};

}  // namespace sd
