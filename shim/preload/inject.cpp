// Fault injection (see inject.h). Each action is made to look like the real
// fault from the program's side and from the peer's:
// - a refused connect is a real refusal, by a loopback port nobody listens
//   on, so a non-blocking connect reports it through poll and SO_ERROR;
// - a reset (or an error that means the connection is dead) really aborts
//   the connection: the peer receives an RST, and later calls on the fd fail
//   as they would after a reset (recv 0, send EPIPE);
// - an injected end of stream keeps returning 0;
// - a short transfer only lowers the count: the data stays intact and the
//   rest goes with the program's next calls.
#include "inject.h"
#include "self_ids.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config_state.h"
#include "control.h"
#include "dns_scope.h"
#include "fdtable.h"
#include "peer_key.h"
#include "hostnames.h"
#include "inject_datagram.h"
#include "inject_readiness.h"
#include "inject_slow_close.h"
#include "inject_stall.h"
#include "log.h"
#include "progname.h"
#include "addr_text.h"
#include "record.h"
#include "replay.h"
#include "report.h"

namespace sd {

std::atomic<const RuleSet*> g_rules{nullptr};
std::atomic<const RuleSet*> g_summary_rules{nullptr};

namespace {

uint64_t g_start_ns = 0;

// A rule set armed: the set and all that is derived from it, taken in whole
// (a live change, control.h, replaces all of it at once). Each call loads it
// once (armed()) and works with that one, whatever changes meanwhile.
struct Armed {
  const RuleSet* set;
  // Views of the set for input held back (rule_view below).
  const RuleSet* holding;
  const RuleSet* after_hold;
  const RuleSet* due;
  CallId holding_probe, due_probe;
  // What the rules look at: the rest is not gathered (a unix peer's path
  // costs a syscall, a local port another, a clock read ~50 instructions).
  bool uses_host, uses_lport, uses_unix_peer, uses_time, dns_rule_without_host;
  // Calls that an after_bytes rule names (call_bit).
  uint64_t after_bytes_calls;
  // sendmmsg/recvmmsg named by a datagram rule: counted per message.
  uint64_t datagram_batch_calls;
  uint8_t number;  // rule_set_number's
};

// No rule at all: before start-up, after `ctl clear`, while paused.
const RuleSet g_no_rules{};
const Armed g_unarmed{&g_no_rules, &g_no_rules, &g_no_rules, &g_no_rules, CallId::recv, CallId::recv,
                      false, false, false, false, false, 0, 0, 0};
std::atomic<const Armed*> g_armed{&g_unarmed};

inline const Armed& armed() { return *g_armed.load(std::memory_order_acquire); }

// Every set armed so far, by number (from 1): what a connection's mark
// names (Conn::inject_set), whichever set is in force when it is read.
constexpr unsigned kNumbered = 255;
std::atomic<const RuleSet*> g_numbered[kNumbered + 1];
std::atomic<uint32_t> g_next_number{1};

// The hook's call as the rules name it (hooks.def's RULE: __recv_chk is recv).
bool call_id(Call c, CallId* out) {
  *out = rule_call(c);
  return *out != CallId::count;
}

void sleep_ns(uint64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000u), static_cast<long>(ns % 1000000000u)};
  // A signal must not cut an injected delay short: that would not be the
  // slow peer the rule asked for. The handler still runs.
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
  }
}

bool is_dead_connection_error(int err) {
  return err == ECONNRESET || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH || err == EPIPE ||
         err == ECONNABORTED;
}

// Aborts a TCP connection in place: connect(AF_UNSPEC) makes the kernel
// send an RST and drop the connection (tcp_disconnect), while the fd stays
// open. The kernel's own ECONNRESET is read off, since the injected call
// reports it itself. Unix stream sockets have no RST: both directions are
// shut, which the peer sees as EOF / EPIPE.
void abort_connection(int fd, Conn* c) {
  Kind k = c ? c->get_kind() : kind_of(fd);
  if (k == Kind::tcp4 || k == Kind::tcp6) {
    // The abort leaves the kernel a wildcard local address: the real one
    // is remembered first, for the records.
    sockaddr_storage local;
    socklen_t local_len;
    if (!cached_local(fd, &local, &local_len)) learn_local(fd);
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    real<Call::connect>()(fd, &unspec, sizeof(unspec));
    int so_error;
    socklen_t len = sizeof(so_error);
    real<Call::getsockopt>()(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  } else if (k == Kind::unix_stream || k == Kind::unix_seqpacket) {
    real<Call::shutdown>()(fd, SHUT_RDWR);
  }
  if (c) {
    c->set(cf_reset | cf_peer_closed);
    uint64_t zero = 0;
    c->closed_peer_ns.compare_exchange_strong(zero, now_mono_ns(), std::memory_order_relaxed);
  }
}

// What follows from an injected fault on this connection is the fault's
// doing, not the network's: report() marks every later record of the socket
// with the rule, until it is closed or connects anew.
void mark_aftermath(Conn* c, const Rule* rule) {
  if (!c) return;
  static_assert(kMaxRules < UINT16_MAX, "a rule's number fits an fd entry's inject_rule");
  c->inject_set.store(rule_set_of(rule), std::memory_order_relaxed);
  c->inject_rule.store(static_cast<uint16_t>(rule->index + 1), std::memory_order_relaxed);
  c->set(cf_injected);
}

int family_of(Kind k) {
  switch (k) {
    case Kind::tcp4: case Kind::udp4: case Kind::raw4: return AF_INET;
    case Kind::tcp6: case Kind::udp6: case Kind::raw6: return AF_INET6;
    case Kind::unix_stream: case Kind::unix_dgram: case Kind::unix_seqpacket: return AF_UNIX;
    default: return 0;
  }
}

int type_of(Kind k) {
  switch (k) {
    case Kind::tcp4: case Kind::tcp6: case Kind::unix_stream: return SOCK_STREAM;
    case Kind::udp4: case Kind::udp6: case Kind::unix_dgram: return SOCK_DGRAM;
    case Kind::unix_seqpacket: return SOCK_SEQPACKET;
    default: return 0;
  }
}

// Everything the matcher may ask about a call, gathered only as far as the
// rules in force use it (a local port costs a syscall).
struct Gathered {
  MatchInput in;
  uint8_t addr[16];
  char path[110];
  char host[128];
};

// Inline on the path of every read and write under rules (matching_rule,
// the after_bytes boundary); inject_lookup gathers too.
__attribute__((always_inline)) inline void gather(const Armed& a, Gathered& g, CallId id, int fd, Conn* c,
                                                 const sockaddr* target, socklen_t target_len, const char* host) {
  MatchInput& in = g.in;
  in.call = id;
  in.prog = program_name();
  uint64_t now = a.uses_time ? now_mono_ns() : 0;
  in.since_start_ns = a.uses_time ? now - g_start_ns : 0;
  in.host = host;
  Kind k = c ? c->get_kind() : Kind::unknown;
  if (is_unclassified(k) && fd >= 0) k = kind_of(fd);
  in.family = family_of(k);
  in.sock_type = type_of(k);
  sockaddr_storage ss;
  socklen_t len = 0;
  const sockaddr* peer = target;
  if (peer) {
    len = target_len;
  } else if (c && cached_peer(c, &ss, &len)) {
    peer = reinterpret_cast<sockaddr*>(&ss);
  } else if (fd >= 0 && in.family == AF_UNIX && a.uses_unix_peer) {
    len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer = reinterpret_cast<sockaddr*>(&ss);
  }
  PeerKey key;
  if (peer && PeerKey::pack(peer, len, &key)) {
    std::memcpy(g.addr, key.words, sizeof(key.words));
    in.peer_addr = g.addr;
    in.peer_port = key.port();
  } else if (peer && peer->sa_family == AF_UNIX && a.uses_unix_peer) {
    in.peer_path = format_addr(peer, len, g.path, sizeof(g.path));
  }
  if (!in.host && a.uses_host && peer && host_of(peer, len, g.host, sizeof(g.host))) in.host = g.host;
  if (a.uses_lport && fd >= 0 && (in.family == AF_INET || in.family == AF_INET6)) {
    sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0)
      in.local_port = ntohs(local.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                                                       : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  }
  if (c && is_socket(k)) {
    in.connection = c->has(cf_established | cf_connect_pending);
    in.bytes_in = c->rx.load(std::memory_order_relaxed);
    in.bytes_out = c->tx.load(std::memory_order_relaxed);
    uint64_t opened = c->opened_ns.load(std::memory_order_relaxed);
    in.conn_age_ns = opened && now ? now - opened : 0;
  }
}

// Rules act on sockets only: a close of a file, a connect or an accept on
// one, are left to the kernel. A fd never seen is asked about once
// (kind_of). Reads and writes are sorted out before inject_io.
bool on_socket(int fd, const Conn* c) {
  Kind k = c ? c->get_kind() : Kind::unknown;
  return is_socket(is_unclassified(k) ? kind_of(fd) : k);
}

// What the rules need to know about this call, gathered; false when no
// rule can apply to it (none names it, or none can name its peer).
__attribute__((always_inline)) inline bool gather_for(const Armed& a, Gathered& g, Call call, int fd, Conn* c,
                                                     const sockaddr* target, socklen_t target_len, const char* host) {
  CallId id;
  if (!call_id(call, &id) || !may_match(a.set, id)) return false;
  // Every call the rules are asked about, before any rule is left out.
  count_call(id, fd, c);
  // Only peer rules for this call: a peer they cannot name ends it here.
  if (a.set->peer_only_mask & call_bit(id)) {
    uint64_t words[2] = {0, 0};
    int family = 0;
    if (target && (target->sa_family == AF_INET || target->sa_family == AF_INET6)) {
      // The family counts even when the length is too short for its address
      // (the words stay zero): a peer rule sees what the call named.
      family = target->sa_family;
      PeerKey k;
      if (PeerKey::pack(target, target_len, &k)) {
        words[0] = k.words[0];
        words[1] = k.words[1];
      }
    } else if (c) {
      family = static_cast<int>(c->peer_meta.load(std::memory_order_relaxed) >> 16);
      words[0] = c->peer_addr[0].load(std::memory_order_relaxed);
      words[1] = c->peer_addr[1].load(std::memory_order_relaxed);
    }
    if (!peer_may_match(*a.set, id, family, reinterpret_cast<const uint8_t*>(words))) return false;
  }
  gather(a, g, id, fd, c, target, target_len, host);
  return true;
}

// The rules that act on this call, if any rule names it at all.
unsigned matching_rules(const Armed& a, Call call, int fd, Conn* c, const sockaddr* target, socklen_t target_len,
                        const char* host, Matched* m) {
  Gathered g;
  m->count = 0;
  m->actions = 0;
  return gather_for(a, g, call, fd, c, target, target_len, host) ? pick_rules(*a.set, g.in, m) : 0;
}

// The byte count that an after_bytes rule compares for a call.
uint64_t& counted_bytes(MatchInput& in, bool input) { return input ? in.bytes_in : in.bytes_out; }

// after_bytes=N on a stream is exact: the call that would carry the
// connection past N is cut at N, so exactly N bytes pass and the next call
// meets the rule. The room left before the nearest such boundary; 0: none.
uint64_t room_before_boundary(const Armed& a, const Gathered& g, bool input) {
  const RuleSet& set = *a.set;
  unsigned id = static_cast<unsigned>(g.in.call);
  MatchInput at = g.in;
  uint64_t moved = counted_bytes(at, input);
  uint64_t room = 0;
  for (uint32_t i = set.first[id]; i < set.first[id + 1]; ++i) {
    const Rule& r = set.rules[set.by_call[i]];
    if (!(r.filters & rf_after_bytes) || moved >= r.after_bytes || (room && r.after_bytes - moved >= room)) continue;
    counted_bytes(at, input) = r.after_bytes;
    if (rule_would_apply(set, r.index, at)) room = r.after_bytes - moved;
  }
  return room;
}

// A datagram (or a seqpacket record) is never cut: the one that would carry
// the connection past an after_bytes boundary meets the rule itself, as if
// the boundary were reached. An input call learns its size by peeking.
void crossing_datagram_rules(const Armed& a, int fd, Gathered& g, bool input, const AskedLength& asked, Matched* m) {
  std::size_t size = 0;
  if (input) {
    ssize_t n = real<Call::recv>()(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n <= 0) return;
    size = static_cast<std::size_t>(n);
  } else if (!asked.get(&size) || size == 0) {
    return;
  }
  uint64_t room = room_before_boundary(a, g, input);
  if (!room || size <= room) return;
  counted_bytes(g.in, input) += room;
  pick_rules(*a.set, g.in, m);
}

// An injected fault's record: its own failure, or a notice (delay, short).
void record(Call call, int fd, const Rule* rule, CodeKind d, int code, long ret, const char* note,
            const sockaddr* target = nullptr, socklen_t target_len = 0, const char* host = nullptr) {
  Outcome f{call};
  f.fd = fd;
  f.ret = ret;
  f.code_kind = d;
  f.code = code;
  f.rule = rule->text;
  f.note = note;
  f.addr = target;
  f.addr_len = target_len;
  f.host = host;
  // Only a send with MSG_FASTOPEN names its peer here (inject_connect).
  f.connects = call != Call::connect && target != nullptr;
  report(f);
}

// Delay, bandwidth: the waiting part of an action, with its notice.
void wait_for(Call call, int fd, const Rule* rule, uint64_t ns, const char* what) {
  record(call, fd, rule, CodeKind::event, ev_injected_delay, 0, what);
  sleep_ns(ns);
}

// A jittered delay's record says what this call drew (a fixed delay's rule
// already says how long); nullptr for a fixed one.
const char* drawn_delay_note(const Rule* rule, uint64_t ns, char (&buf)[64]) {
  if (!(rule->wait_hi_ns | rule->wait_sd_ns)) return nullptr;
  note_drawn(ns);
  std::snprintf(buf, sizeof(buf), "this call drew %llu.%03llu ms", static_cast<unsigned long long>(ns / 1000000),
                static_cast<unsigned long long>(ns / 1000 % 1000));
  return buf;
}

// delay=: a call (not a read or a write) waits the delays of the rules
// acting on it, one after the other: they add up (rules.h, RuleStage).
void delay_call(Call call, int fd, const Matched& m) {
  for (unsigned i = 0; i < m.count; ++i) {
    if (m.rule[i]->action != RuleAction::delay) continue;
    char note[64];
    uint64_t ns = delay_ns(m, i);
    wait_for(call, fd, m.rule[i], ns, drawn_delay_note(m.rule[i], ns, note));
  }
}

// The one ending action among the rules acting on a call (match_rules
// lets at most one through), or nullptr.
const Rule* ending_rule(const Matched& m) {
  for (unsigned i = 0; i < m.count; ++i)
    if (rule_stage(m.rule[i]->action) == RuleStage::end) return m.rule[i];
  return nullptr;
}

// bandwidth=RATE moves at most a slice (a tenth of a second's worth) per
// call, so that the flow is smooth, not bursty; bandwidth_wait_ns paces it.
uint64_t bandwidth_slice(const Rule* rule) {
  uint64_t rate = rule->bytes ? rule->bytes : 1;
  return rate / 10 ? rate / 10 : 1;
}

// Views of the rule set for input held back (inject_readiness.h): the same
// rules and counters, each view with its own index by call.
//  - holding: the rules that hold input back (delay, bandwidth), or drop
//    the datagram that came in, asked by a wait that finds input ready;
//  - after a hold: every rule but the input delays and those drops, for
//    the read that takes the input a wait held back or let pass (the wait
//    asked them already);
//  - due: the rules that end an idle connection's input at a time, whose
//    next read a wait makes due.

constexpr uint64_t kInputCallBits = rule_calls_of(CallClass::recv);

// A lost datagram never makes a socket readable: a drop on every input call
// is decided by the wait that finds the datagram in (a drop naming some
// read calls only cannot be foreseen there: it waits for the read).
bool drop_asked_by_wait(const Rule& r) {
  return r.action == RuleAction::drop && (r.calls & kInputCallBits) == kInputCallBits;
}
bool holds_input(const Rule& r) {
  return ((r.calls & kInputCallBits) &&
          (r.action == RuleAction::delay || r.action == RuleAction::bandwidth || r.action == RuleAction::stall)) ||
         drop_asked_by_wait(r);
}
// A stall a wait began holds the input for good: the read is not asked again.
bool left_for_the_read(const Rule& r) {
  return !((r.calls & kInputCallBits) && (r.action == RuleAction::delay || r.action == RuleAction::stall)) &&
         !drop_asked_by_wait(r);
}
// A rule counted by call number (nth, every, prob) cannot be foreseen
// without taking a number: only the others make a read due. after_bytes
// is due once the bytes came in: the read that would meet it may find no
// more data.
bool ends_input_at_a_time(const Rule& r) {
  return (r.calls & kInputCallBits) && (r.filters & (rf_after | rf_since_start | rf_after_bytes)) &&
         !(r.filters & (rf_nth | rf_every | rf_prob)) &&
         (r.action == RuleAction::eof || r.action == RuleAction::reset || r.action == RuleAction::close ||
          r.action == RuleAction::error);
}

// Memory handed out in order from a block given by the caller: arming a
// set allocates nothing (arm_rules may run in a signal handler).
struct Carve {
  char* at;
  char* end;
  void* take(std::size_t bytes, std::size_t align) {
    auto p = (reinterpret_cast<uintptr_t>(at) + align - 1) / align * align;
    at = reinterpret_cast<char*>(p + bytes);
    return at <= end ? reinterpret_cast<void*>(p) : nullptr;
  }
};

const RuleSet* rule_view(const RuleSet& set, bool (*keep)(const Rule&), Carve& mem) {
  auto* view = new (mem.take(sizeof(RuleSet), alignof(RuleSet))) RuleSet(set);
  auto* by_call = static_cast<uint16_t*>(mem.take((set.first[kRuleCallCount] + 1) * sizeof(uint16_t), alignof(uint16_t)));
  uint32_t k = 0;
  view->call_mask = 0;
  for (unsigned c = 0; c < kRuleCallCount; ++c) {
    view->first[c] = k;
    for (uint32_t i = set.first[c]; i < set.first[c + 1]; ++i)
      if (keep(set.rules[set.by_call[i]])) {
        by_call[k++] = set.by_call[i];
        view->call_mask |= call_bit(static_cast<CallId>(c));
      }
  }
  view->first[kRuleCallCount] = k;
  view->by_call = by_call;
  return view;
}

// The input call a wait asks a view's rules about, for the read to come:
// the first the view names of recv, read, recvfrom, recvmsg, readv, recvmmsg.
CallId probe_call(const RuleSet& view) {
  for (CallId id : {CallId::recv, CallId::read, CallId::recvfrom, CallId::recvmsg, CallId::readv, CallId::recvmmsg})
    if (may_match(&view, id)) return id;
  return CallId::recv;
}

// bandwidth=RATE: the connection may have moved rate * age bytes by now;
// how long until it may move one more byte.
uint64_t bandwidth_wait_ns(const Conn* c, const Rule* rule) {
  if (!c) return 0;
  uint64_t rate = rule->bytes ? rule->bytes : 1;
  uint64_t moved = c->rx.load(std::memory_order_relaxed) + c->tx.load(std::memory_order_relaxed);
  uint64_t due_ns = static_cast<uint64_t>(static_cast<double>(moved) * 1e9 / static_cast<double>(rate));
  uint64_t age = now_mono_ns() - c->opened_ns.load(std::memory_order_relaxed);
  return due_ns > age ? due_ns - age : 0;
}

// A read meets input held back until `deadline`: a non-blocking one finds
// nothing yet (EAGAIN); a blocking one waits for it, up to its own
// SO_RCVTIMEO, after which it finds nothing in time (EAGAIN, as the kernel
// says). True: the input is there now, the read goes on.
bool wait_out_hold(int fd, const Conn* c, int flags, uint64_t deadline, Verdict* v) {
  uint64_t now = now_mono_ns();
  if (deadline > now) {
    bool nonblocking = flags & MSG_DONTWAIT;
    if (!nonblocking) {
      int fl = real<Call::fcntl>()(fd, F_GETFL);
      nonblocking = fl >= 0 && (fl & O_NONBLOCK);
    }
    uint64_t left = deadline - now;
    uint64_t limit = UINT64_MAX;
    timeval tv{};
    socklen_t len = sizeof(tv);
    if (!nonblocking && c->has(cf_rcvtimeo) && real<Call::getsockopt>()(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 &&
        (tv.tv_sec > 0 || tv.tv_usec > 0))
      limit = static_cast<uint64_t>(tv.tv_sec) * 1000000000u + static_cast<uint64_t>(tv.tv_usec) * 1000u;
    if (nonblocking || limit < left) {
      if (!nonblocking) sleep_ns(limit);
      v->kind = Verdict::fail;
      v->code = EAGAIN;
      return false;
    }
    sleep_ns(left);
  }
  end_hold(fd);
  return true;
}

// Input held back `ns` from now, from a read. False when no hold could be
// kept (then the read sleeps, as it did).
bool hold_input(int fd, const Conn* c, uint64_t ns) {
  return g_readiness && c && is_socket(c->get_kind()) && start_hold(fd, c, now_mono_ns() + ns);
}

}  // namespace

std::size_t arm_room(const RuleSet& set) {
  return sizeof(Armed) + alignof(Armed) + 3 * (sizeof(RuleSet) + alignof(RuleSet)) +
         3 * (set.first[kRuleCallCount] + 1) * sizeof(uint16_t) + 8;
}

void rearm(const void* token) {
  const auto* a = static_cast<const Armed*>(token);
  g_armed.store(a, std::memory_order_release);
  g_rules.store(a->set->count ? a->set : nullptr, std::memory_order_release);
  update_detour();
}

const void* armed_now() { return &armed(); }

const void* arm_rules(const RuleSet* set, void* mem, std::size_t room) {
  if (!set || set->count == 0) {
    rearm(&g_unarmed);
    return &g_unarmed;
  }
  uint32_t number = g_next_number.fetch_add(1, std::memory_order_relaxed);
  if (number > kNumbered) return nullptr;
  Carve carve{static_cast<char*>(mem), static_cast<char*>(mem) + room};
  auto* a = new (carve.take(sizeof(Armed), alignof(Armed))) Armed{};
  a->set = set;
  a->number = static_cast<uint8_t>(number);
  for (uint32_t i = 0; i < set->count; ++i) {
    const Rule& r = set->rules[i];
    a->uses_host = a->uses_host || (r.filters & rf_host);
    a->uses_lport = a->uses_lport || (r.filters & rf_lport);
    a->uses_unix_peer = a->uses_unix_peer || ((r.filters & rf_peer) && r.peer_family == AF_UNIX);
    a->dns_rule_without_host =
        a->dns_rule_without_host || ((r.calls & call_bit(CallId::getaddrinfo)) && !(r.filters & rf_host));
    // bandwidth paces by the connection's age; delay and timeout do not.
    a->uses_time = a->uses_time || (r.filters & (rf_after | rf_since_start)) || r.action == RuleAction::bandwidth;
    if (r.filters & rf_after_bytes) a->after_bytes_calls |= r.calls;
    if (is_datagram_action(r.action)) {
      a->datagram_batch_calls |= r.calls & (call_bit(CallId::sendmmsg) | call_bit(CallId::recvmmsg));
      // A datagram held back from a read makes the socket readable when due.
      if (r.action == RuleAction::reorder && (r.calls & kInputCallBits)) g_input_due_rules = true;
      // One sent held back for a time goes out then, also while the program waits.
      if (r.action == RuleAction::reorder && r.wait_ns && (r.calls & ~kInputCallBits)) g_readiness = true;
    }
  }
  a->holding = rule_view(*set, holds_input, carve);
  a->after_hold = rule_view(*set, left_for_the_read, carve);
  a->due = rule_view(*set, ends_input_at_a_time, carve);
  a->holding_probe = probe_call(*a->holding);
  a->due_probe = probe_call(*a->due);
  // The readiness machinery, once on, stays on: waits registered under an
  // earlier set are watched for the sets to come.
  if (a->holding->call_mask != 0) g_input_hold_rules = true;
  for (uint32_t i = 0; i < set->count; ++i) {
    const Rule& r = set->rules[i];
    // A drop's answer may also change with the time between wait and read.
    uint32_t changing = rf_nth | rf_every | rf_prob | rf_times;
    if (drop_asked_by_wait(r)) {
      changing |= rf_after | rf_since_start;
      g_input_drop_rules = true;
    }
    if (holds_input(r) && (r.filters & changing)) g_input_hold_counted = true;
  }
  if (a->due->call_mask != 0) g_input_due_rules = true;
  stall_arm(*set);
  slow_close_arm(*set);
  if (g_input_hold_rules || g_input_due_rules) g_readiness = true;
  g_numbered[number].store(set, std::memory_order_release);
  // The whole arming first, then the set: whoever sees the set sees it armed.
  rearm(a);
  return a;
}

uint8_t rule_set_of(const Rule* rule) {
  const Armed& a = armed();
  // The mark names the set the rule is of: the one in force, or an older one
  // still used by the call that injected.
  if (rule >= a.set->rules && rule < a.set->rules + a.set->count) return a.number;
  for (unsigned n = 1; n <= kNumbered; ++n) {
    const RuleSet* s = g_numbered[n].load(std::memory_order_acquire);
    if (!s) break;
    if (rule >= s->rules && rule < s->rules + s->count) return static_cast<uint8_t>(n);
  }
  return 0;
}

void inject_configure() {
  g_start_ns = now_mono_ns();
  const RuleSet* set = config().rules;
  if (!set || set->count == 0) return;
  bool uses_draws = false;  // prob, jittered delays; a replay draws nothing
  for (uint32_t i = 0; i < set->count; ++i) uses_draws = uses_draws || rule_draws(set->rules[i]);
  if (config().replay) {
    replay_configure(*config().replay, *set, program_name());
    uses_draws = false;
  }
  // The set is this process's own, parsed at start-up: its draws come from
  // the seed of the whole run and the program's name (rules.h). Before it
  // is armed: its views copy the seed.
  uint64_t run_seed = set->seed;
  const_cast<RuleSet*>(set)->seed = process_seed(run_seed, program_name());
  if (uses_draws && !config().seed_set && config().level >= Level::info) {
    // Say the seed drawn, so that this run's faults can be replayed. An
    // info line: at level error it would be said by every process of a tree.
    LineBuffer b;
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t wall = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
    format_seed_notice(wall, self_pid(), program_name(), run_seed, config().format, b);
    log_write(b.view().data(), b.view().size());
  }
  // Shared with `sockdiag ctl` when control is on: it reads them.
  control_counters(*const_cast<RuleSet*>(set));
  g_summary_rules.store(set, std::memory_order_release);
  std::size_t room = arm_room(*set);
  arm_rules(set, ::operator new(room), room);
}

namespace {
Verdict apply_io(Call call, bool input, int fd, Conn* c, const RuleSet& set, const MatchInput& in, const Matched& m,
                 const AskedLength& asked, int flags);
}  // namespace

void inject_after_fork() {
  datagram_after_fork();
  slow_close_after_fork();
  // Under control the child took in its own copy of the set (control.h).
  if (control_enabled()) return;
  if (const RuleSet* set = g_rules.load(std::memory_order_relaxed)) reset_counters(*set);
}

Verdict inject_io(Call call, int fd, Conn* c, const AskedLength& asked, int flags) {
  Verdict v;
  // An empty batch moves nothing (libuv probes sendmmsg so): no rule counts it.
  if ((call == Call::sendmmsg || call == Call::recvmmsg) && asked.plain == 0) return v;
  bool input = class_of(call) == CallClass::recv;
  // What an earlier injected fault left behind.
  if (c && c->has(cf_inject_pending)) {
    const Rule* rule = nullptr;
    // The refusal that stands for the injected error is read off, as this
    // call would have read the real error.
    if (!c->has(cf_inject_unconnected)) {
      int so_error;
      socklen_t so_len = sizeof(so_error);
      real<Call::getsockopt>()(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    }
    int err = take_injected_so_error(c, &rule);
    if (err) {
      if (rule) record(call, fd, rule, CodeKind::errno_code, err, -1, "the error the injected fault left pending, met by this call");
      v.kind = Verdict::fail;
      v.code = err;
      return v;
    }
  }
  if (c && input && c->has(cf_reset | cf_eof_forced)) {
    v.kind = Verdict::eof;  // after a reset or an injected EOF, recv keeps returning 0
    return v;
  }
  slow_close_due();
  if (c && c->has(cf_stalled) && stalled_io(call, input, fd, c, flags, &v)) return v;
  // Input a wait held back, or found ready and asked the delay rules about:
  // this read takes it, and is not delayed again.
  const Armed& a = armed();
  const RuleSet* set = a.set;
  if (input && g_readiness && c) {
    uint64_t deadline = 0;
    HoldState held = take_hold(fd, c, &deadline);
    if (held == HoldState::held && !wait_out_hold(fd, c, flags, deadline, &v)) return v;
    if (held != HoldState::none) set = a.after_hold;
  }
  Gathered g;
  if (!gather_for(a, g, call, fd, c, nullptr, 0, nullptr)) {
    if (datagrams_held(fd)) v.kind = Verdict::datagram;
    return v;
  }
  bool bounded = (a.after_bytes_calls & call_bit(g.in.call)) && call != Call::recvmmsg && call != Call::sendmmsg;
  bool stream = g.in.sock_type == SOCK_STREAM;
  bool datagrams = g.in.sock_type == SOCK_DGRAM || g.in.sock_type == SOCK_SEQPACKET;
  Matched m;
  pick_rules(*set, g.in, &m);
  if (!m.count && bounded && datagrams) crossing_datagram_rules(a, fd, g, input, asked, &m);
  std::size_t len = 0;
  if (m.count) v = apply_io(call, input, fd, c, *set, g.in, m, asked, flags);
  // A batch under a datagram rule is counted message by message; a socket
  // with datagrams held back counts the ones that overtake them.
  if (v.kind == Verdict::proceed && g.in.sock_type == SOCK_DGRAM &&
      ((a.datagram_batch_calls & call_bit(g.in.call)) || datagrams_held(fd)))
    v.kind = Verdict::datagram;
  if (bounded && stream && (v.kind == Verdict::proceed || v.kind == Verdict::clamp)) {
    uint64_t room = room_before_boundary(a, g, input);
    if (room && asked.get(&len) && len > room && (v.kind == Verdict::proceed || v.max_len > room)) {
      v.kind = Verdict::clamp;
      v.max_len = static_cast<std::size_t>(room);
    }
  }
  return v;
}

namespace {
// The rules acting on a read or a write compose (rules.h, RuleStage): each
// stage is one function below, and a new action is one case in its stage's.

// Stage 1, the waits: the delays add up (each rule says its own in its
// notice), then the bandwidth limits wait for the connection's pace. Input
// is held back rather than the read (inject_readiness.h). False: the call
// ends here, `*v` says how (a non-blocking read of input not in yet).
bool io_waits(Call call, bool input, int fd, Conn* c, const Matched& m, int flags, Verdict* v) {
  uint64_t delays = 0;
  for (unsigned i = 0; i < m.count; ++i)
    if (m.rule[i]->action == RuleAction::delay) delays += delay_ns(m, i);
  if (delays) {
    bool held = input && hold_input(fd, c, delays);
    for (unsigned i = 0; i < m.count; ++i) {
      if (m.rule[i]->action != RuleAction::delay) continue;
      char note[64];
      uint64_t ns = delay_ns(m, i);
      record(call, fd, m.rule[i], CodeKind::event, ev_injected_delay, 0, drawn_delay_note(m.rule[i], ns, note));
    }
    if (!held) sleep_ns(delays);
    else if (!wait_out_hold(fd, c, flags, now_mono_ns() + delays, v)) return false;
  }
  for (unsigned i = 0; i < m.count; ++i) {
    const Rule* rule = m.rule[i];
    if (rule->action != RuleAction::bandwidth) continue;
    uint64_t wait = bandwidth_wait_ns(c, rule);
    if (!wait) continue;
    if (!input || !hold_input(fd, c, wait)) {
      wait_for(call, fd, rule, wait, "held back by the bandwidth limit");
      continue;
    }
    record(call, fd, rule, CodeKind::event, ev_injected_delay, 0, "held back by the bandwidth limit");
    if (!wait_out_hold(fd, c, flags, now_mono_ns() + wait, v)) return false;
  }
  return true;
}

// Stage 2, the limits on size: the smallest wins. A short rule that sets
// the length says so; a bandwidth slice is the limit's own pace.
void io_limits(Call call, int fd, const Matched& m, const AskedLength& asked, Verdict* v) {
  std::size_t len = 0;
  // Memory or counts the kernel would refuse: no transfer to shorten.
  if (!asked.get(&len)) return;
  const Rule* by = nullptr;
  uint64_t limit = UINT64_MAX;
  for (unsigned i = 0; i < m.count; ++i) {
    const Rule* rule = m.rule[i];
    uint64_t l = UINT64_MAX;
    switch (rule->action) {
      case RuleAction::short_transfer: l = rule->bytes; break;
      case RuleAction::bandwidth: l = bandwidth_slice(rule); break;
      default: break;
    }
    if (l < limit) {
      limit = l;
      by = rule;
    }
  }
  if (!by || len <= limit) return;
  v->kind = Verdict::clamp;
  v->max_len = static_cast<std::size_t>(limit);
  if (by->action != RuleAction::short_transfer) return;
  char note[96];
  std::snprintf(note, sizeof(note), "at most %llu of the %zu bytes asked for", static_cast<unsigned long long>(limit),
                len);
  record(call, fd, by, CodeKind::event, ev_injected_short, 0, note);
}

// Stage 3, the ending: what the one ending action does to a read or write.
void io_ending(Call call, bool input, int fd, Conn* c, const Rule* rule, int flags, Verdict* v) {
  switch (rule->action) {
    case RuleAction::eof:
      // This record is the connection's end of stream: none other follows.
      if (c) c->set(cf_eof_forced | cf_eof_seen);
      mark_aftermath(c, rule);
      record(call, fd, rule, CodeKind::event, ev_eof, 0, nullptr);
      v->kind = Verdict::eof;
      break;
    case RuleAction::close:
      // An orderly end, as a peer or a proxy that hangs up: the peer reads a
      // FIN. A read here ends at once (the kernel would still hand out what
      // is queued after SHUT_RD, past an after_bytes limit); a write goes on
      // to meet the kernel's EPIPE, and its SIGPIPE as the program would.
      real<Call::shutdown>()(fd, SHUT_RDWR);
      mark_aftermath(c, rule);
      if (!input) break;
      if (c) c->set(cf_eof_forced | cf_eof_seen);
      record(call, fd, rule, CodeKind::event, ev_eof, 0, "the connection was closed in order: the peer received a FIN");
      v->kind = Verdict::eof;
      break;
    case RuleAction::reset:
      abort_connection(fd, c);
      mark_aftermath(c, rule);
      v->kind = Verdict::fail;
      v->code = ECONNRESET;
      record(call, fd, rule, CodeKind::errno_code, ECONNRESET, -1, "the connection was aborted: the peer received an RST");
      break;
    case RuleAction::error:
      if (is_dead_connection_error(rule->error_code)) {
        abort_connection(fd, c);
        mark_aftermath(c, rule);
      }
      v->kind = Verdict::fail;
      v->code = rule->error_code;
      record(call, fd, rule, CodeKind::errno_code, rule->error_code, -1,
             is_dead_connection_error(rule->error_code) ? "the connection was aborted: the peer received an RST" : nullptr);
      break;
    case RuleAction::drop:  // datagram actions: the datagram calls act (inject_datagram.h)
    case RuleAction::duplicate:
    case RuleAction::reorder:
    case RuleAction::truncate:
      v->kind = Verdict::datagram;
      v->rule = rule;
      break;
    case RuleAction::stall:
      *v = start_stall(call, input, fd, c, rule, flags);
      break;
    default:  // timeout names connect only, slow_close close and shutdown
      break;
  }
}

// What the rules acting on a read or write do to it, stage by stage. A
// call that ends in the waits (held input not in yet) was not acted on by
// the limits and the ending, nor one that an ending fails by its limits:
// their injections are given back, the call stays seen.
Verdict apply_io(Call call, bool input, int fd, Conn* c, const RuleSet& set, const MatchInput& in, const Matched& m,
                 const AskedLength& asked, int flags) {
  constexpr uint32_t kWaits = stage_bits(RuleStage::wait), kEnds = stage_bits(RuleStage::end);
  constexpr uint32_t kLimits = stage_bits(RuleStage::limit) | action_bit(RuleAction::bandwidth);
  Verdict v;
  if ((m.actions & kWaits) && !io_waits(call, input, fd, c, m, flags, &v)) {
    for (unsigned i = 0; i < m.count; ++i)
      if (rule_stage(m.rule[i]->action) != RuleStage::wait) unclaim(set, *m.rule[i], in);
    return v;
  }
  if (m.actions & kEnds) io_ending(call, input, fd, c, ending_rule(m), flags, &v);
  if (v.kind == Verdict::proceed) {
    if (m.actions & kLimits) io_limits(call, fd, m, asked, &v);
  } else if (m.actions & stage_bits(RuleStage::limit)) {
    for (unsigned i = 0; i < m.count; ++i)
      if (rule_stage(m.rule[i]->action) == RuleStage::limit) unclaim(set, *m.rule[i], in);
  }
  return v;
}

// Connects `fd` to a loopback port of its family that nobody listens on: the
// kernel answers with a real RST, a real ECONNREFUSED, through the program's
// own connect semantics (immediate when blocking, SO_ERROR when not).
bool connect_to_refusal(int fd, int family, int* ret, int* err) {
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    len = sizeof(*in6);
  }
  // A bound, never listening socket holds the port while we connect to it.
  int holder = real<Call::socket>()(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (holder < 0) return false;
  socklen_t got = len;
  bool ok = real<Call::bind>()(holder, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
            getsockname(holder, reinterpret_cast<sockaddr*>(&ss), &got) == 0;
  if (ok) {
    *ret = real<Call::connect>()(fd, reinterpret_cast<sockaddr*>(&ss), got);
    *err = errno;
  }
  real<Call::close>()(holder);
  return ok;
}
// A loopback listener whose accept queue is full (backlog 0, one connection
// never accepted): the kernel drops every SYN sent to it, so a connect there
// stays in SYN_SENT like a connect to a host that does not answer. Made once
// per address family, on first use; its fds are the library's own.
struct Blackhole {
  std::atomic<int> state;  // 0 none, 1 being made, 2 ready, 3 failed
  int listener, filler;
  sockaddr_storage addr;
  socklen_t len;
};
Blackhole g_blackholes[2];

bool make_blackhole(Blackhole& b, int family) {
  std::memset(&b.addr, 0, sizeof(b.addr));
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&b.addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    b.len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&b.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    b.len = sizeof(*in6);
  }
  b.listener = real<Call::socket>()(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (b.listener < 0) return false;
  b.listener = move_high(b.listener);
  if (real<Call::bind>()(b.listener, reinterpret_cast<sockaddr*>(&b.addr), b.len) != 0 ||
      real<Call::listen>()(b.listener, 0) != 0 ||
      getsockname(b.listener, reinterpret_cast<sockaddr*>(&b.addr), &b.len) != 0)
    return false;
  b.filler = real<Call::socket>()(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (b.filler < 0) return false;
  b.filler = move_high(b.filler);
  if (real<Call::connect>()(b.filler, reinterpret_cast<sockaddr*>(&b.addr), b.len) != 0 && errno != EINPROGRESS)
    return false;
  pollfd p{b.filler, POLLOUT, 0};
  return real<Call::poll>()(&p, 1, 1000) == 1 && !(p.revents & (POLLERR | POLLHUP));
}

// Connects `fd` to the blackhole with TCP_USER_TIMEOUT set to the rule's
// wait: the kernel itself gives up with ETIMEDOUT at its first SYN
// retransmission past the wait (1 s, 3 s, 7 s... after the start), through
// the program's own connect semantics. -2: no blackhole could be made.
int connect_to_blackhole(int fd, int family, uint64_t wait_ns, int* err, unsigned int* before_out) {
  Blackhole& b = g_blackholes[family == AF_INET6];
  int st = b.state.load(std::memory_order_acquire);
  if (st == 0 && b.state.compare_exchange_strong(st, 1, std::memory_order_acq_rel))
    b.state.store(st = make_blackhole(b, family) ? 2 : 3, std::memory_order_release);
  if (st != 2) return -2;
  unsigned int before = 0;
  socklen_t blen = sizeof(before);
  real<Call::getsockopt>()(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &before, &blen);
  unsigned int ms = static_cast<unsigned int>(wait_ns / 1000000 ? wait_ns / 1000000 : 1);
  real<Call::setsockopt>()(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
  int ret = real<Call::connect>()(fd, reinterpret_cast<sockaddr*>(&b.addr), b.len);
  *err = errno;
  // A blocking connect has failed by now: the program's own setting returns.
  if (*err != EINPROGRESS) real<Call::setsockopt>()(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &before, sizeof(before));
  *before_out = before;
  return ret;
}

}  // namespace

bool is_blackhole_fd(int fd) {
  for (const Blackhole& b : g_blackholes)
    if (b.state.load(std::memory_order_acquire) >= 2 && fd >= 0 && (fd == b.listener || fd == b.filler)) return true;
  return false;
}

namespace {

// A connect on a socket whose injected connect attempt the kernel has not
// ended (the program connects again to learn the outcome, as some libraries
// do): the kernel answers from that attempt, EALREADY while it goes on, its
// error once, then ECONNABORTED if the error was already read elsewhere;
// it starts nothing new. The answer is the injected fault's, with its rule,
// and names the program's address, not the one the library connected to.
int continue_injected_connect(Call call, int fd, const sockaddr* addr, socklen_t len, Conn* c, int* err) {
  const Rule* rule = injected_rule_of(c);
  const Rule* pending_rule = nullptr;
  int ret = -1;
  if (c->has(cf_inject_unconnected)) {
    int pending = take_injected_so_error(c, &pending_rule);
    *err = pending ? pending : ECONNABORTED;
  } else {
    ret = real<Call::connect>()(fd, addr, len);
    *err = errno;
    // The kernel's refusal stands for the injected error: said as that one.
    if (ret < 0 && *err != EALREADY && c->has(cf_inject_pending)) *err = take_injected_so_error(c, &pending_rule);
  }
  // Over unless still going on: the next connect starts a new attempt.
  if (ret == 0 || *err != EALREADY) c->clear(cf_injected_connecting | cf_inject_unconnected | cf_connect_pending);
  if (ret < 0 && rule)
    record(call, fd, rule, CodeKind::errno_code, *err, -1, "connect called again after the injected failure", addr, len);
  return ret;
}

// An interrupted blocking TCP connect goes on in the kernel: the next
// connect says EALREADY, then the outcome; poll and SO_ERROR report it. So
// the connect is really started, without waiting (O_NONBLOCK for the one
// call: the program's flags are put back as they were), then said to be
// interrupted. A connect that ends at once (an immediate error, a deferred
// Fast Open connect) could not have been interrupted: *handled false, the
// program's own call is made.
int interrupted_connect(Call call, int fd, const sockaddr* addr, socklen_t len, Conn* c, const Rule* rule,
                        bool* handled, int* err) {
  int fl = real<Call::fcntl>()(fd, F_GETFL);
  bool set_nonblocking = fl >= 0 && !(fl & O_NONBLOCK) && real<Call::fcntl>()(fd, F_SETFL, fl | O_NONBLOCK) == 0;
  int ret = real<Call::connect>()(fd, addr, len);
  int e = errno;
  if (set_nonblocking) {
    // Only the bit set here is taken back: another thread may have changed the others meanwhile.
    int now = real<Call::fcntl>()(fd, F_GETFL);
    real<Call::fcntl>()(fd, F_SETFL, (now >= 0 ? now : fl) & ~O_NONBLOCK);
  }
  if (ret == 0) return 0;
  if (e != EINPROGRESS) {
    *handled = false;
    return 0;
  }
  if (c) c->set(cf_connect_pending);
  *err = EINTR;
  record(call, fd, rule, CodeKind::errno_code, EINTR, -1, "the connect goes on in the kernel, as after a real signal",
         addr, len);
  return -1;
}

}  // namespace

int inject_connect(Call call, int fd, const sockaddr* addr, socklen_t len, Conn* c, bool* handled, int* err) {
  *handled = false;
  if (c && c->has(cf_injected_connecting)) {
    *handled = true;
    return continue_injected_connect(call, fd, addr, len, c, err);
  }
  // A new attempt: what an earlier injected fault left on the socket ends here.
  if (c && c->has(cf_injected | cf_reset | cf_eof_forced | cf_inject_pending)) {
    if (c->has(cf_user_timeout_set)) {
      unsigned int before = static_cast<unsigned int>(c->inject_err.load(std::memory_order_relaxed));
      real<Call::setsockopt>()(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &before, sizeof(before));
    }
    c->clear(cf_injected | cf_reset | cf_eof_forced | cf_inject_pending | cf_inject_unconnected | cf_user_timeout_set);
    c->inject_rule.store(0, std::memory_order_relaxed);
    c->inject_set.store(0, std::memory_order_relaxed);
    c->inject_err.store(0, std::memory_order_relaxed);
  }
  const Armed& a = armed();
  bool socket = on_socket(fd, c);
  // Each attempt is a connection of its own (call_identity.h).
  if (socket) identity_connect(fd, addr, len);
  if (!may_match(a.set, CallId::connect) || !socket) return 0;
  Matched m;
  if (!matching_rules(a, Call::connect, fd, c, addr, len, nullptr, &m)) return 0;
  // The waits first, then the ending, if any (rules.h, RuleStage).
  delay_call(call, fd, m);
  const Rule* rule = ending_rule(m);
  if (!rule) return 0;
  *handled = true;
  Kind k = c ? c->get_kind() : kind_of(fd);
  bool tcp = k == Kind::tcp4 || k == Kind::tcp6;
  bool nonblocking = false;
  {
    int fl = real<Call::fcntl>()(fd, F_GETFL);
    nonblocking = fl >= 0 && (fl & O_NONBLOCK);
  }
  int code = rule->action == RuleAction::timeout ? ETIMEDOUT : rule->error_code;
  if (c) set_peer(c, addr, len);
  if (code == EINTR && tcp) return interrupted_connect(call, fd, addr, len, c, rule, handled, err);
  // A refusal, a timeout, an unreachable network... shape the socket, and
  // what the program meets on it afterwards. An interrupted or would-block
  // connect leaves nothing behind (AF_UNIX: the attempt is undone).
  if (code != EINTR && code != EAGAIN) mark_aftermath(c, rule);
  if (code == ECONNREFUSED && tcp) {
    int ret = -1;
    if (connect_to_refusal(fd, k == Kind::tcp4 ? AF_INET : AF_INET6, &ret, err)) {
      if (ret == 0) {
        // Something listens there after all (a race for the port): undo.
        abort_connection(fd, c);
        ret = -1;
        *err = ECONNREFUSED;
      }
      if (*err == EINPROGRESS && c) c->set(cf_connect_pending | cf_injected_connecting);
      else record(call, fd, rule, CodeKind::errno_code, *err, -1, nullptr, addr, len);
      return ret;
    }
  }
  if (rule->action == RuleAction::timeout && tcp) {
    unsigned int before = 0;
    int ret = connect_to_blackhole(fd, k == Kind::tcp4 ? AF_INET : AF_INET6, rule->wait_ns, err, &before);
    if (ret != -2) {
      if (*err == EINPROGRESS && c) {
        // The wait stays on the socket while the kernel times the attempt
        // out: the program's own value is put back at its next attempt.
        c->inject_err.store(static_cast<int32_t>(before), std::memory_order_relaxed);
        c->set(cf_connect_pending | cf_injected_connecting | cf_user_timeout_set);
      }
      else record(call, fd, rule, CodeKind::errno_code, *err, ret, nullptr, addr, len);
      return ret;
    }
  }
  if (rule->action == RuleAction::timeout && !nonblocking) {
    sleep_ns(rule->wait_ns);
    *err = ETIMEDOUT;
    record(call, fd, rule, CodeKind::errno_code, ETIMEDOUT, -1, nullptr, addr, len);
    return -1;
  }
  if (nonblocking && tcp) {
    // A non-blocking connect learns its failure later: EINPROGRESS now, the
    // error through poll and SO_ERROR. A real failed attempt (a refusal)
    // stands for it, its error read as the injected one: the kernel leaves
    // the socket as an ICMP error would (tcp_done), so a recv then says 0
    // and poll POLLIN, as they would. Without one the fd stays unconnected,
    // which the kernel reports as writable and hung up, POLLERR added by
    // the poll hooks, so the program's poll wakes at once.
    if (rule->action == RuleAction::timeout) sleep_ns(rule->wait_ns);
    int ret = -1, e = 0;
    bool redirected = connect_to_refusal(fd, k == Kind::tcp4 ? AF_INET : AF_INET6, &ret, &e);
    if (redirected && ret == 0) abort_connection(fd, c);  // something listens there after all
    redirected = redirected && ret < 0 && e == EINPROGRESS;
    if (c) {
      c->inject_err.store(code, std::memory_order_relaxed);
      c->set(cf_inject_pending | cf_connect_pending | cf_injected_connecting |
             (redirected ? 0u : uint32_t{cf_inject_unconnected}));
    }
    *err = EINPROGRESS;
    return -1;
  }
  *err = code;
  record(call, fd, rule, CodeKind::errno_code, code, -1, nullptr, addr, len);
  return -1;
}

namespace {
// shutdown's ENOTCONN on a TCP connection means the peer has reset it
// already: the connection is aborted, and the reset left pending for the
// next call (recv or send say ECONNRESET once, as SO_ERROR does; then recv
// 0, send EPIPE), as the peer's RST would have left it.
void reset_by_peer_before(int fd, const Rule* rule) {
  Conn* c = find_conn(fd);
  Kind k = c ? c->get_kind() : Kind::unknown;
  if (k != Kind::tcp4 && k != Kind::tcp6) return;
  abort_connection(fd, c);
  mark_aftermath(c, rule);
  c->inject_err.store(ECONNRESET, std::memory_order_relaxed);
  c->set(cf_inject_pending | cf_inject_unconnected);
}

// What the rules acting on a call that is not a read, a write or a
// connect do to it: the waits, then the ending (rules.h, RuleStage).
// `how`: shutdown's.
Verdict act_on_call(Call call, int fd, const Matched& m, const char* host, int how = -1) {
  Verdict v;
  delay_call(call, fd, m);
  const Rule* rule = ending_rule(m);
  if (!rule) return v;
  switch (rule->action) {
    case RuleAction::slow_close:
      if (delay_fin(call, fd, rule, how) && call == Call::shutdown) v.kind = Verdict::done;
      break;
    case RuleAction::reset: {
      // close with an RST: SO_LINGER {on, 0} makes the close abort.
      linger lg{1, 0};
      real<Call::setsockopt>()(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      record(call, fd, rule, CodeKind::event, ev_injected_reset, 0, nullptr);
      break;
    }
    case RuleAction::error:
      if (call == Call::shutdown && rule->error_code == ENOTCONN) reset_by_peer_before(fd, rule);
      v.kind = Verdict::fail;
      v.code = rule->error_code;
      record(call, fd, rule, rule->error_code_kind, rule->error_code, rule->error_code_kind == CodeKind::gai ? rule->error_code : -1,
             nullptr, nullptr, 0, host);
      break;
    default:
      break;
  }
  return v;
}
}  // namespace

Verdict inject_call(Call call, int fd, int how) {
  slow_close_due();
  Conn* c = fd >= 0 ? find_conn(fd) : nullptr;
  CallId id;
  const Armed& a = armed();
  if (!call_id(call, &id) || !may_match(a.set, id) || (fd >= 0 && !on_socket(fd, c))) return Verdict{};
  Matched m;
  matching_rules(a, call, fd, c, nullptr, 0, nullptr, &m);
  return act_on_call(call, fd, m, nullptr, how);
}

Verdict inject_lookup(Call call, const char* node, const addrinfo* hints) {
  CallId id;
  const Armed& a = armed();
  if (!call_id(call, &id) || !may_match(a.set, id)) return Verdict{};
  int family = AF_UNSPEC;
  if (lookup_scope(node, hints, &family) == LookupScope::no_dns) return Verdict{};
  Gathered g;
  count_call(id, -1);
  gather(a, g, id, -1, nullptr, nullptr, 0, node);
  // Only a rule without host= needs to know (one with it names the lookups
  // it means): the hosts file is read only then.
  g.in.name_from_hosts_file = a.dns_rule_without_host && in_hosts_file(node, family);
  Matched m;
  pick_rules(*a.set, g.in, &m);
  return act_on_call(call, -1, m, node);
}

int take_injected_so_error(Conn* c, const Rule** rule) {
  if (!c || !c->has(cf_inject_pending)) return 0;
  c->clear(cf_inject_pending);
  *rule = injected_rule_of(c);
  return c->inject_err.exchange(0, std::memory_order_relaxed);
}

void inject_abort(int fd, Conn* c, const Rule* rule) {
  abort_connection(fd, c);
  mark_aftermath(c, rule);
}

void inject_mark(Conn* c, const Rule* rule) { mark_aftermath(c, rule); }

void inject_record(Call call, int fd, const Rule* rule, CodeKind d, int code, long ret, const char* note) {
  record(call, fd, rule, d, code, ret, note);
}

bool rule_in_force(const Rule* rule) {
  const RuleSet* set = armed().set;
  for (uint32_t i = 0; i < set->count; ++i)
    if (set->rules[i].action == rule->action && std::strcmp(set->rules[i].text, rule->text) == 0) return true;
  return false;
}

const Rule* injected_rule_of(const Conn* c) {
  uint32_t idx = c ? c->inject_rule.load(std::memory_order_relaxed) : 0;
  uint32_t number = c ? c->inject_set.load(std::memory_order_relaxed) : 0;
  const RuleSet* set = number ? g_numbered[number].load(std::memory_order_acquire) : nullptr;
  return set && idx && idx <= set->count ? &set->rules[idx - 1] : nullptr;
}

const Rule* next_datagram_rule(Call call, int fd, Conn* c, Verdict* v) {
  *v = Verdict{};
  const Armed& a = armed();
  Gathered g;
  Matched m;
  if (!gather_for(a, g, call, fd, c, nullptr, 0, nullptr) || !pick_rules(*a.set, g.in, &m)) return nullptr;
  *v = apply_io(call, class_of(call) == CallClass::recv, fd, c, *a.set, g.in, m, AskedLength{}, 0);
  if (v->kind != Verdict::datagram) return nullptr;
  const Rule* rule = v->rule;
  *v = Verdict{};
  return rule;
}

void record_injected(Call call, int fd, Conn* c, const Rule* rule, const char* note, bool aftermath) {
  if (aftermath) mark_aftermath(c, rule);
  record(call, fd, rule, CodeKind::event, ev_injected_datagram, 0, note);
}

uint64_t input_hold_ns(Call wait, int fd, Conn* c, bool* dropped) {
  *dropped = false;
  const Armed& a = armed();
  if (a.holding->call_mask == 0) return 0;
  Gathered g;
  // Counted as the wait's own call: the read to come counts itself.
  count_call(rule_call(wait), fd, c);
  gather(a, g, a.holding_probe, fd, c, nullptr, 0, nullptr);
  Matched m;
  if (!pick_rules(*a.holding, g.in, &m)) return 0;
  // A stall holds the input for good (inject_stall.h), and a datagram the
  // rules drop is taken now, unseen: the waits of other rules do not matter.
  if (const Rule* end = ending_rule(m)) {
    if (end->action == RuleAction::stall) return stall_from_wait(wait, fd, c, end);
    if (end->action == RuleAction::drop) {
      *dropped = drop_ready_datagram(wait, fd, c, end);
      return 0;
    }
  }
  // As a read's waits (io_waits): the delays add up, and the bandwidth
  // limits hold the input until the connection's pace allows it, if later.
  uint64_t delays = 0, pace = 0;
  for (unsigned i = 0; i < m.count; ++i) {
    if (m.rule[i]->action == RuleAction::delay) delays += delay_ns(m, i);
    else if (uint64_t w = bandwidth_wait_ns(c, m.rule[i]); w > pace) pace = w;
  }
  uint64_t ns = delays > pace ? delays : pace;
  if (!ns) return 0;
  char note[96];
  std::snprintf(note, sizeof(note), "input held back %llu.%03llu ms: not readable before then",
                static_cast<unsigned long long>(ns / 1000000), static_cast<unsigned long long>(ns / 1000 % 1000));
  // One notice per rule that holds the input back.
  for (unsigned i = 0; i < m.count; ++i) {
    const Rule* r = m.rule[i];
    uint64_t own = r->action == RuleAction::delay ? delay_ns(m, i) : bandwidth_wait_ns(c, r);
    if (!own) continue;
    if (r->action == RuleAction::delay && (r->wait_hi_ns | r->wait_sd_ns)) note_drawn(own);
    record(wait, fd, r, CodeKind::event, ev_injected_delay, 0, note);
  }
  return ns;
}

uint64_t input_due_at(int fd, Conn* c) {
  if (!g_input_due_rules) return 0;
  uint64_t held = held_datagram_due(fd);
  if (held == 1) return 1;
  const Armed& a = armed();
  const RuleSet* due_set = a.due;
  Gathered g;
  gather(a, g, a.due_probe, fd, c, nullptr, 0, nullptr);
  uint64_t now = now_mono_ns();
  uint64_t best = 0;
  unsigned id = static_cast<unsigned>(a.due_probe);
  for (uint32_t i = due_set->first[id]; i < due_set->first[id + 1]; ++i) {
    const Rule& r = due_set->rules[due_set->by_call[i]];
    MatchInput at = g.in;
    uint64_t wait = 0;
    if ((r.filters & rf_after) && at.conn_age_ns < r.after_ns) {
      wait = r.after_ns - at.conn_age_ns;
      at.conn_age_ns = r.after_ns;
    }
    if ((r.filters & rf_since_start) && at.since_start_ns < r.since_start_ns) {
      if (r.since_start_ns - at.since_start_ns > wait) wait = r.since_start_ns - at.since_start_ns;
      at.since_start_ns = r.since_start_ns;
    }
    // Due already: a time in the past (1), whatever the clock says by now.
    uint64_t due = wait ? now + wait : 1;
    if (rule_would_apply(*due_set, r.index, at) && (best == 0 || due < best)) best = due;
  }
  return held && (best == 0 || held < best) ? held : best;
}

}  // namespace sd
