// The table behind `sockdiag ctl counters`' breakdown (injection_tally.h).
#include "injection_tally.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "addr_text.h"
#include "rules.h"

namespace sd {
namespace {

// How far an entry is looked for from its key's slot: a full table counts
// the injection as untallied rather than scan it all.
constexpr uint32_t kProbes = 64;

struct Key {
  uint32_t counter;
  uint8_t call, family;
  uint16_t port;
  uint8_t addr[16];
  char name[sizeof(TallyEntry::name)];
};

Key key_of(uint32_t counter, const MatchInput& in) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  Key k{};
  k.counter = counter;
  k.call = static_cast<uint8_t>(in.call);
  const char* name = nullptr;
  if (in.peer_addr && (in.family == AF_INET || in.family == AF_INET6)) {
    bool mapped = in.family == AF_INET6 && std::memcmp(in.peer_addr, kMapped, 12) == 0;
    k.family = static_cast<uint8_t>(mapped ? AF_INET : in.family);
    std::memcpy(k.addr, mapped ? in.peer_addr + 12 : in.peer_addr, k.family == AF_INET ? 4 : 16);
    k.port = in.peer_port;
  } else if (in.peer_path) {
    k.family = AF_UNIX;
    name = in.peer_path;
  } else if (in.call == CallId::getaddrinfo) {
    name = in.host;
  }
  if (name) {
    std::size_t n = strnlen(name, sizeof(k.name) - 1);
    std::memcpy(k.name, name, n);
  }
  return k;
}

bool same(const TallyEntry& e, const Key& k) {
  return e.counter == k.counter && e.call == k.call && e.family == k.family && e.port == k.port &&
         std::memcmp(e.addr, k.addr, sizeof(k.addr)) == 0 && std::strncmp(e.name, k.name, sizeof(k.name)) == 0;
}

uint32_t slot_of(const Key& k) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the key's bytes
  const auto* p = reinterpret_cast<const unsigned char*>(&k);
  for (std::size_t i = 0; i < sizeof(k); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return static_cast<uint32_t>(h % kTallyEntries);
}

}  // namespace

void tally_injection(InjectionTally& t, uint32_t counter, const MatchInput& in) {
  Key k = key_of(counter, in);
  uint32_t at = slot_of(k);
  for (uint32_t probe = 0; probe < kProbes; ++probe) {
    TallyEntry& e = t.entries[(at + probe) % kTallyEntries];
    uint32_t state = e.state.load(std::memory_order_acquire);
    if (state == 0) {
      if (!e.state.compare_exchange_strong(state, 1, std::memory_order_acquire)) {
        if (state != 2) continue;  // another thread is filling it
      } else {
        e.counter = k.counter;
        e.call = k.call;
        e.family = k.family;
        e.port = k.port;
        std::memcpy(e.addr, k.addr, sizeof(k.addr));
        std::memcpy(e.name, k.name, sizeof(k.name));
        e.injected.fetch_add(1, std::memory_order_relaxed);
        e.state.store(2, std::memory_order_release);
        return;
      }
    }
    if (state == 2 && same(e, k)) {
      e.injected.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  t.untallied.fetch_add(1, std::memory_order_relaxed);
}

void untally_injection(InjectionTally& t, uint32_t counter, const MatchInput& in) {
  Key k = key_of(counter, in);
  uint32_t at = slot_of(k);
  for (uint32_t probe = 0; probe < kProbes; ++probe) {
    TallyEntry& e = t.entries[(at + probe) % kTallyEntries];
    if (e.state.load(std::memory_order_acquire) != 2 || !same(e, k)) continue;
    // One of the entries of the key that holds one: a key may have two.
    uint64_t n = e.injected.load(std::memory_order_relaxed);
    while (n && !e.injected.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
    }
    if (n) return;
  }
  uint64_t n = t.untallied.load(std::memory_order_relaxed);
  while (n && !t.untallied.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

std::string tally_peer_text(const TallyEntry& e) {
  if (e.family == AF_UNIX || e.family == 0) return std::string(e.name, strnlen(e.name, sizeof(e.name)));
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (e.family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(e.port);
    std::memcpy(&a->sin_addr, e.addr, 4);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(e.port);
    std::memcpy(&a->sin6_addr, e.addr, 16);
    len = sizeof(*a);
  }
  char text[128];
  return format_addr(reinterpret_cast<const sockaddr*>(&ss), len, text, sizeof(text));
}

}  // namespace sd
