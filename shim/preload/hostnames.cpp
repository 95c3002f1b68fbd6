// Remembered host names (see hostnames.h): a small ring of slots, each
// guarded by a sequence number (odd while being written), so that hooks on
// any thread read and write it without a lock.
#include "hostnames.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cstring>

#include "peer_key.h"

namespace sd {
namespace {

constexpr int kSlots = 64;
constexpr std::size_t kNameMax = 128;

struct Slot {
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> generation;  // when written: the latest name for an address wins
  std::atomic<uint64_t> addr[2];
  std::atomic<uint32_t> family;
  std::atomic<char> name[kNameMax];
};
Slot g_slots[kSlots];
std::atomic<uint32_t> g_next{0};

// An address's key is its PeerKey without the port: a name is the address's.
bool key_of(const sockaddr* a, socklen_t len, uint32_t* family, uint64_t addr[2]) {
  PeerKey k{};
  bool inet = a && PeerKey::pack(a, len, &k);
  addr[0] = k.words[0];
  addr[1] = k.words[1];
  if (inet) *family = static_cast<uint32_t>(k.family());
  return inet;
}

}  // namespace

void remember_host(const char* name, const addrinfo* results) {
  if (!name || !*name) return;
  // A numeric lookup ("127.0.0.1") names nothing.
  unsigned char probe[16];
  if (inet_pton(AF_INET, name, probe) == 1 || inet_pton(AF_INET6, name, probe) == 1) return;
  for (const addrinfo* ai = results; ai; ai = ai->ai_next) {
    uint32_t family;
    uint64_t addr[2];
    if (!key_of(ai->ai_addr, ai->ai_addrlen, &family, addr)) continue;
    uint32_t generation = g_next.fetch_add(1, std::memory_order_relaxed);
    Slot& s = g_slots[generation % kSlots];
    uint32_t seq = s.seq.load(std::memory_order_relaxed);
    // Another writer on this slot: it wins (the ring has 64 slots, a clash
    // means a burst of lookups, and losing one name only loses a label).
    if ((seq & 1) || !s.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire)) continue;
    s.generation.store(generation + 1, std::memory_order_relaxed);
    s.family.store(family, std::memory_order_relaxed);
    s.addr[0].store(addr[0], std::memory_order_relaxed);
    s.addr[1].store(addr[1], std::memory_order_relaxed);
    std::size_t i = 0;
    for (; name[i] && i + 1 < kNameMax; ++i) s.name[i].store(name[i], std::memory_order_relaxed);
    s.name[i].store('\0', std::memory_order_relaxed);
    s.seq.store(seq + 2, std::memory_order_release);
  }
}

bool host_of(const sockaddr* a, socklen_t len, char* out, std::size_t cap) {
  uint32_t family;
  uint64_t addr[2];
  // Nothing resolved yet (most programs, or numeric hosts only): no scan.
  if (cap == 0 || g_next.load(std::memory_order_relaxed) == 0 || !key_of(a, len, &family, addr)) return false;
  uint32_t best = 0;
  for (Slot& s : g_slots) {
    uint32_t before = s.seq.load(std::memory_order_acquire);
    if (before == 0 || (before & 1)) continue;
    uint32_t generation = s.generation.load(std::memory_order_relaxed);
    if (generation <= best || s.family.load(std::memory_order_relaxed) != family ||
        s.addr[0].load(std::memory_order_relaxed) != addr[0] || s.addr[1].load(std::memory_order_relaxed) != addr[1])
      continue;
    char name[kNameMax];
    std::size_t i = 0;
    for (; i + 1 < kNameMax; ++i) {
      name[i] = s.name[i].load(std::memory_order_relaxed);
      if (!name[i]) break;
    }
    name[i] = '\0';
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) != before) continue;  // rewritten meanwhile
    best = generation;
    std::size_t n = i < cap - 1 ? i : cap - 1;
    std::memcpy(out, name, n);
    out[n] = '\0';
  }
  return best != 0;
}

}  // namespace sd
