// Matching an intercepted call against the rules (rules.h). Runs inside the
// program's threads and signal handlers: atomics only, no lock, no
// allocation, no libc state (the program's rand() is left alone).
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "injection_tally.h"
#include "rules.h"

namespace sd {
namespace {

// splitmix64's finaliser: a good 64-bit mix, cheap.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// Decision n of rule r: the n-th output of a splitmix64 stream of the rule's
// own, so it depends on (seed, r, n) only, never on other rules or threads.
uint64_t decision(uint64_t seed, uint32_t rule, uint64_t n) {
  uint64_t stream = mix64(seed ^ mix64(kGolden * (uint64_t{rule} + 1)));
  return mix64(stream + n * kGolden);
}

// Apart from prob's decisions: a rule with both draws them independently.
constexpr uint64_t kDelayStream = 0x6a09e667f3bcc909ull;
constexpr uint32_t kEndings = stage_bits(RuleStage::end);

// Glob with '*' and '?': the classic backtrack to the last star, linear enough
// for names, no allocation.
bool glob(const char* pat, const char* s, bool fold_case) {
  auto lower = [fold_case](char c) { return fold_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  const char* star = nullptr;
  const char* resume = nullptr;
  while (*s) {
    if (*pat == '*') {
      star = pat++;
      resume = s;
    } else if (*pat && (*pat == '?' || lower(*pat) == lower(*s))) {
      ++pat;
      ++s;
    } else if (star) {
      pat = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*pat == '*') ++pat;
  return *pat == '\0';
}

bool prefix_equal(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned bytes = bits / 8;
  if (std::memcmp(a, b, bytes) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
  return (a[bytes] & mask) == (b[bytes] & mask);
}

// The peer as the rules see it: an IPv6 socket's ::ffff:a.b.c.d is IPv4.
struct Peer {
  int family;
  const uint8_t* addr;
};

Peer effective_peer(const MatchInput& in) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (in.family == AF_INET6 && in.peer_addr && std::memcmp(in.peer_addr, kMapped, 12) == 0)
    return {AF_INET, in.peer_addr + 12};
  return {in.family, in.peer_addr};
}

bool kind_matches(RuleKind k, int family, int sock_type) {
  int type = sock_type & 0xf;  // SOCK_NONBLOCK/SOCK_CLOEXEC may ride along
  bool inet = family == AF_INET || family == AF_INET6;
  switch (k) {
    case RuleKind::any: return true;
    case RuleKind::tcp: return inet && type == SOCK_STREAM;
    case RuleKind::udp: return inet && type == SOCK_DGRAM;
    case RuleKind::unix_socket: return family == AF_UNIX;
    case RuleKind::ipv4: return family == AF_INET;
    case RuleKind::ipv6: return family == AF_INET6;
    case RuleKind::tcp4: return family == AF_INET && type == SOCK_STREAM;
    case RuleKind::tcp6: return family == AF_INET6 && type == SOCK_STREAM;
    case RuleKind::udp4: return family == AF_INET && type == SOCK_DGRAM;
    case RuleKind::udp6: return family == AF_INET6 && type == SOCK_DGRAM;
  }
  return false;
}

bool in_range(uint16_t v, uint16_t lo, uint16_t hi) { return v != 0 && v >= lo && v <= hi; }

constexpr uint64_t kInputCalls = call_bit(CallId::recv) | call_bit(CallId::recvfrom) | call_bit(CallId::recvmsg) |
                                 call_bit(CallId::recvmmsg) | call_bit(CallId::read) | call_bit(CallId::readv);
constexpr uint64_t kOutputCalls = call_bit(CallId::send) | call_bit(CallId::sendto) | call_bit(CallId::sendmsg) |
                                  call_bit(CallId::sendmmsg) | call_bit(CallId::write) | call_bit(CallId::writev);

// Address equality without a libc call per rule (memcmp of a variable size
// was a third of the cost of 20 non-matching rules).
bool same_addr(const uint8_t* a, const uint8_t* b, int family) {
  uint64_t x[2] = {0, 0}, y[2] = {0, 0};
  std::size_t n = family == AF_INET ? 4 : 16;
  std::memcpy(x, a, n);
  std::memcpy(y, b, n);
  return x[0] == y[0] && x[1] == y[1];
}

// The filters on the call itself (step 1 of match_rules), cheapest first.
// `peer` is effective_peer(in), worked out once for all the rules.
// Inlined into match_rules, the hot loop (rule_would_apply calls it too).
__attribute__((always_inline)) inline bool call_filters_pass(const Rule& r, RuleCounters& k, const MatchInput& in,
                                                            const Peer& peer) {
  uint32_t f = r.filters;
  if (in.name_from_hosts_file && !(f & rf_host)) return false;
  // Only a stream has a connection to close in order (a datagram socket's
  // shutdown ends nothing the peer sees).
  if (r.action == RuleAction::close && (in.sock_type & 0xf) != SOCK_STREAM) return false;
  // Datagram faults touch datagram sockets only: never a stream's bytes.
  if (is_datagram_action(r.action) && (in.sock_type & 0xf) != SOCK_DGRAM) return false;
  if ((f & rf_kind) && !kind_matches(r.kind, peer.family, in.sock_type)) return false;
  if ((f & rf_port) && !in_range(in.peer_port, r.port_lo, r.port_hi)) return false;
  if ((f & rf_lport) && !in_range(in.local_port, r.lport_lo, r.lport_hi)) return false;
  if (f & rf_peer) {
    if (r.peer_family != peer.family) return false;
    if (r.peer_family == AF_UNIX) {
      if (!in.peer_path || std::strcmp(in.peer_path, r.peer_path) != 0) return false;
    } else if (!peer.addr || !same_addr(peer.addr, r.peer_addr, r.peer_family)) {
      return false;
    }
  }
  if ((f & rf_net) && (r.net_family != peer.family || !peer.addr || !prefix_equal(peer.addr, r.net_addr, r.net_bits)))
    return false;
  if (f & rf_after_bytes) {
    uint64_t call = call_bit(in.call);
    uint64_t n = (call & kInputCalls) ? in.bytes_in : (call & kOutputCalls) ? in.bytes_out : in.bytes_in + in.bytes_out;
    if (!in.connection || n < r.after_bytes) return false;
  }
  if ((f & rf_after) && (!in.connection || in.conn_age_ns < r.after_ns)) return false;
  if ((f & rf_since_start) && in.since_start_ns < r.since_start_ns) return false;
  if ((f & rf_host) && (!in.host || !glob(r.host, in.host, true))) return false;
  if (f & rf_prog) {
    // The name is the process's own: decide once, then one load per call.
    uint8_t state = k.prog_state.load(std::memory_order_relaxed);
    if (state == 0) {
      if (!in.prog) return false;
      state = glob(r.prog, in.prog, false) ? 1 : 2;
      k.prog_state.store(state, std::memory_order_relaxed);
    }
    if (state != 1) return false;
  }
  return true;
}

// A rule that can never match again: its times are used up, or its call
// numbers are past nth's end. Skipping it spares the shared counter.
bool exhausted(const Rule& r, const RuleCounters& k) {
  if ((r.filters & rf_times) && k.injected.load(std::memory_order_relaxed) >= r.times) return true;
  return (r.filters & rf_nth) && r.nth_hi != 0 && k.seen.load(std::memory_order_relaxed) >= r.nth_hi;
}

// Takes one of the rule's `times` injections, or fails when none is left.
bool claim(const Rule& r, RuleCounters& k) {
  if (!(r.filters & rf_times)) {
    k.injected.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  uint64_t cur = k.injected.load(std::memory_order_relaxed);
  while (cur < r.times)
    if (k.injected.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  return false;
}

}  // namespace

uint64_t peer_bit(int family, const uint8_t* addr) {
  uint64_t x[2] = {0, 0};
  std::memcpy(x, addr, family == AF_INET ? 4 : 16);
  return uint64_t{1} << (mix64(x[0] ^ (x[1] * 0x9e3779b97f4a7c15ull) ^ static_cast<uint64_t>(family)) >> 58);
}

bool peer_may_match(const RuleSet& set, CallId call, int family, const uint8_t* addr) {
  MatchInput in;
  in.family = family;
  in.peer_addr = addr;
  Peer peer = effective_peer(in);
  return peer.addr && (peer.family == AF_INET || peer.family == AF_INET6) &&
         (set.peer_bloom[static_cast<unsigned>(call)] & peer_bit(peer.family, peer.addr));
}

unsigned match_rules(const RuleSet& set, const MatchInput& in, Matched* out) {
  // Kept in locals, written once: `out` may alias nothing the loop reads,
  // but the compiler cannot know it.
  unsigned count = 0;
  uint32_t actions = 0;
  unsigned c = static_cast<unsigned>(in.call);
  if (c < kRuleCallCount) {
    Peer peer = effective_peer(in);
    bool peer_rules_may_match = peer_may_match(set, in.call, in.family, in.peer_addr);
    for (uint32_t i = set.first[c]; i < set.first[c + 1] && count < kMaxActing; ++i) {
      uint32_t idx = set.by_call[i];
      const Rule& r = set.rules[idx];
      if (!peer_rules_may_match && (r.filters & rf_peer) && r.peer_family != AF_UNIX) continue;
      RuleCounters& k = set.counters[idx];
      if (exhausted(r, k)) continue;
      if (!call_filters_pass(r, k, in, peer)) continue;
      uint64_t n = k.seen.fetch_add(1, std::memory_order_relaxed) + 1;
      if ((r.filters & rf_nth) && (n < r.nth_lo || (r.nth_hi != 0 && n > r.nth_hi))) continue;
      if ((r.filters & rf_every) && n % r.every != 0) continue;
      if ((r.filters & rf_prob) && decision(set.seed, idx, n) % kProbOne >= r.prob) continue;
      // Step 5: one ending per call; a later one has seen the call only.
      if ((actions & kEndings) && (action_bit(r.action) & kEndings)) continue;
      if (!claim(r, k)) continue;
      if (set.tally) tally_injection(*set.tally, set.tally_base + idx, in);
      actions |= action_bit(r.action);
      out->rule[count] = &r;
      out->draw[count] = (r.wait_hi_ns | r.wait_sd_ns) ? decision(set.seed ^ kDelayStream, idx, n) : 0;
      ++count;
    }
  }
  out->count = count;
  out->actions = actions;
  return count;
}

void unclaim(const RuleSet& set, const Rule& r, const MatchInput& in) {
  set.counters[r.index].injected.fetch_sub(1, std::memory_order_relaxed);
  if (set.tally) untally_injection(*set.tally, set.tally_base + r.index, in);
}

uint64_t delay_of_draw(const Rule& r, uint64_t d) {
  if (r.wait_hi_ns) return r.wait_ns + d % (r.wait_hi_ns - r.wait_ns + 1);
  if (!r.wait_sd_ns) return r.wait_ns;
  // Irwin-Hall: the sum of 12 uniform draws, less 6, is close to a standard
  // normal (within 0.01 of its quantiles out to 3 deviations) and never
  // beyond 6; no libm, and exact to reproduce.
  int64_t sum = 0;
  for (uint64_t i = 1; i <= 3; ++i) {
    uint64_t x = mix64(d + i * kGolden);
    for (int j = 0; j < 4; ++j, x >>= 16) sum += static_cast<int64_t>(x & 0xffff);
  }
  double z = static_cast<double>(sum - 6 * 65536 + 6) / 65536.0;  // +6: each draw's mean is 32767.5
  double ns = static_cast<double>(r.wait_ns) + z * static_cast<double>(r.wait_sd_ns);
  return ns <= 0 ? 0 : static_cast<uint64_t>(ns + 0.5);
}

uint64_t delay_ns(const Matched& m, unsigned i) {
  const Rule& r = *m.rule[i];
  return (r.wait_hi_ns | r.wait_sd_ns) ? delay_of_draw(r, m.draw[i]) : r.wait_ns;
}

bool rule_would_apply(const RuleSet& set, uint32_t idx, const MatchInput& in) {
  const Rule& r = set.rules[idx];
  RuleCounters& k = set.counters[idx];
  return !exhausted(r, k) && call_filters_pass(r, k, in, effective_peer(in));
}

void reset_counters(const RuleSet& set) {
  for (uint32_t i = 0; i < set.count; ++i) {
    set.counters[i].seen.store(0, std::memory_order_relaxed);
    set.counters[i].injected.store(0, std::memory_order_relaxed);
    set.counters[i].prog_state.store(0, std::memory_order_relaxed);
  }
}

uint64_t process_seed(uint64_t run_seed, const char* prog) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name
  for (const char* p = prog ? prog : ""; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 0x100000001b3ull;
  return mix64(run_seed ^ mix64(h));
}

uint64_t seed_from_clock() {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  uint64_t t = static_cast<uint64_t>(real.tv_sec) * 1000000000ull + static_cast<uint64_t>(real.tv_nsec);
  uint64_t m = static_cast<uint64_t>(mono.tv_nsec);
  return mix64(t ^ mix64(m ^ (static_cast<uint64_t>(getpid()) << 32)));
}

}  // namespace sd
