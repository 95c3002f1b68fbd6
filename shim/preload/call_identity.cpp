// Connection keys and call indices (see call_identity.h).
//
// Deterministic for a deterministic program, threads included, as long as
// the calls counted on one connection (or, for keys, the connects to one
// peer) are made in the same order: two threads racing to connect to the
// same peer, or to call recv on one socket, may take each other's numbers
// from one run to the next.
#include "call_identity.h"

#include <cstdio>
#include <cstring>

#include "addr_text.h"
#include "fdtable.h"
#include "replay_plan.h"

namespace sd {
namespace {

// Connections opened so far to each peer, by the hash of its text: an
// open-addressed table claimed slot by slot with a compare-and-swap. Full
// (4096 peers), a connection gets a key on first use instead.
constexpr unsigned kPeers = 4096;
std::atomic<uint64_t> g_peer_hash[kPeers];
std::atomic<uint32_t> g_peer_count[kPeers];

// Sockets given a key on first use; calls on no socket, by call.
std::atomic<uint32_t> g_sockets{0};
std::atomic<uint64_t> g_unsocketed[kRuleCallCount];

// __thread, not thread_local: a thread_local of a class type is reached
// through __tls_get_addr on every call (interpose.h).
__thread CallPoint t_point __attribute__((tls_model("initial-exec")));
struct Firing {
  bool set = false;
  CallPoint point;
  bool drawn = false;
  uint64_t drawn_ns = 0;
};
__thread Firing t_firing __attribute__((tls_model("initial-exec")));

uint32_t next_ordinal(uint64_t hash) {
  for (unsigned probe = 0; probe < kPeers; ++probe) {
    unsigned slot = static_cast<unsigned>(hash + probe) & (kPeers - 1);
    uint64_t cur = g_peer_hash[slot].load(std::memory_order_acquire);
    if (cur == 0 && g_peer_hash[slot].compare_exchange_strong(cur, hash, std::memory_order_acq_rel)) cur = hash;
    if (cur == hash) return g_peer_count[slot].fetch_add(1, std::memory_order_relaxed) + 1;
  }
  return 0;
}

// Gives the identity `base`#`ordinal` to `e`, its counts from zero.
void assign(ConnIdentity* e, const char* base, uint32_t ordinal) {
  std::size_t len = strnlen(base, ConnIdentity::kBase - 1);
  std::memcpy(e->base, base, len);
  e->base[len] = '\0';
  e->base_hash.store(conn_base_hash(std::string_view(e->base, len)), std::memory_order_relaxed);
  for (auto& n : e->n) n.store(0, std::memory_order_relaxed);
  e->ordinal.store(ordinal, std::memory_order_release);
}

}  // namespace

void identity_connect(int fd, const sockaddr* addr, socklen_t len) {
  ConnIdentity* e = identity_of(fd);
  if (!e) return;
  char text[ConnIdentity::kBase];
  format_addr(addr, len, text, sizeof(text));
  uint32_t ordinal = next_ordinal(conn_base_hash(std::string_view(text, strnlen(text, sizeof(text) - 1))));
  if (ordinal) assign(e, text, ordinal);
  else e->ordinal.store(0, std::memory_order_release);
}

void count_call(CallId id, int fd, Conn* c) {
  unsigned i = static_cast<unsigned>(id);
  if (i >= kRuleCallCount) return;
  if (!c && fd >= 0) c = find_conn(fd);
  ConnIdentity* e = c && is_socket(c->get_kind()) ? identity_beside(c, fd) : nullptr;
  CallPoint p;
  p.call = id;
  p.fd = fd;
  if (!e) {
    p.base_hash = conn_base_hash("");
    p.n = g_unsocketed[i].fetch_add(1, std::memory_order_relaxed) + 1;
  } else {
    uint32_t ordinal = e->ordinal.load(std::memory_order_acquire);
    if (ordinal == 0) {
      assign(e, "socket", g_sockets.fetch_add(1, std::memory_order_relaxed) + 1);
      ordinal = e->ordinal.load(std::memory_order_acquire);
    }
    p.base_hash = e->base_hash.load(std::memory_order_relaxed);
    p.ordinal = ordinal;
    p.n = e->n[i].fetch_add(1, std::memory_order_relaxed) + 1;
  }
  t_point = p;
  t_firing.set = false;
}

const CallPoint& current_point() { return t_point; }

void note_firing() {
  t_firing.set = true;
  t_firing.point = t_point;
  t_firing.drawn = false;
}

void note_drawn(uint64_t ns) {
  t_firing.drawn = true;
  t_firing.drawn_ns = ns;
}

bool take_firing(int fd, CallId id, char* conn, std::size_t cap, FiringFacts* out) {
  if (!t_firing.set || t_firing.point.fd != fd || t_firing.point.call != id || cap == 0) return false;
  conn[0] = '\0';
  if (t_firing.point.ordinal) {
    // The socket connected anew since (another thread): its key is gone.
    ConnIdentity* e = identity_of(fd);
    if (!e || e->ordinal.load(std::memory_order_acquire) != t_firing.point.ordinal) return false;
    std::snprintf(conn, cap, "%s#%u", e->base, t_firing.point.ordinal);
  }
  out->n = t_firing.point.n;
  out->drawn = t_firing.drawn;
  out->drawn_ns = t_firing.drawn_ns;
  t_firing.drawn = false;
  return true;
}

}  // namespace sd
