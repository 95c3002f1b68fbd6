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

// Plain data, left as it is by `PeerKey k;` (pack() writes it: the hooks'
// copies cost no stores of zeros first); `PeerKey k{}` for all zeros.
struct PeerKey {
  uint64_t words[2];  // the address; IPv4 in the first 4 bytes
  uint32_t meta;      // family << 16 | port (host order); 0: none

  int family() const { return static_cast<int>(meta >> 16); }
  uint16_t port() const { return static_cast<uint16_t>(meta & 0xffff); }  // host order

  // `addr` packed into `out`; false (words zero, meta untouched) for other
  // families and for a length too short for the family's address.
  static bool pack(const sockaddr* addr, socklen_t len, PeerKey* out) {
    // Copied through a local pair: the compiler then keeps it in registers
    // (a 4-byte copy into the struct's first word went through the stack).
    uint64_t w[2] = {0, 0};
    bool inet = false;
    if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      std::memcpy(w, &in->sin_addr, 4);
      out->meta = (AF_INET << 16) | ntohs(in->sin_port);
      inet = true;
    } else if (addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      std::memcpy(w, &in6->sin6_addr, 16);
      out->meta = (AF_INET6 << 16) | ntohs(in6->sin6_port);
      inet = true;
    }
    out->words[0] = w[0];
    out->words[1] = w[1];
    return inet;
  }

  // The address as a sockaddr (IPv6 for any family but AF_INET) and its length.
  void unpack(sockaddr_storage* out, socklen_t* len) const {
    uint64_t w[2] = {words[0], words[1]};  // in registers, as for pack
    std::memset(out, 0, sizeof(*out));
    int family = static_cast<int>(meta >> 16);
    uint16_t port = htons(static_cast<uint16_t>(meta & 0xffff));
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(out);
      in->sin_family = AF_INET;
      in->sin_port = port;
      std::memcpy(&in->sin_addr, w, 4);
      *len = sizeof(sockaddr_in);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = port;
      std::memcpy(&in6->sin6_addr, w, 16);
      *len = sizeof(sockaddr_in6);
    }
  }
};

}  // namespace sd
