// Stalled connections (inject_stall.h says what a stall is).
#include "inject_stall.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "fdtable.h"
#include "inject_readiness.h"
#include "rule_vocabulary.h"

namespace sd {

std::atomic<bool> g_stall_rules{false};

namespace {

constexpr uint8_t kIn = 1, kOut = 2;

// One stall per connection. Few connections stall at once: a small table,
// scanned up to the highest slot used; a slot is claimed by compare-and-swap
// of its fd, as the holds are (no lock, no allocation).
struct StallSlot {
  std::atomic<int> fd{-1};
  std::atomic<uint64_t> opened{0};  // the connection's opened_ns: a new socket on the number is not stalled
  std::atomic<uint8_t> dirs{0};
  std::atomic<uint64_t> reset_at{0};  // 0: never
  std::atomic<const Rule*> rule{nullptr};
};
constexpr int kStallSlots = 256;
StallSlot g_stalls[kStallSlots];
std::atomic<int> g_stalls_used{0};

StallSlot* find_stall(int fd, const Conn* c) {
  int used = g_stalls_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; ++i) {
    StallSlot& s = g_stalls[i];
    if (s.fd.load(std::memory_order_acquire) != fd) continue;
    if (c && s.opened.load(std::memory_order_relaxed) == c->opened_ns.load(std::memory_order_relaxed)) return &s;
    s.fd.store(-1, std::memory_order_release);  // the socket it stalled is gone
  }
  return nullptr;
}

// A free slot, or one whose socket is gone.
StallSlot* new_stall(int fd, const Conn* c) {
  for (int i = 0; i < kStallSlots; ++i) {
    StallSlot& s = g_stalls[i];
    int expected = s.fd.load(std::memory_order_relaxed);
    if (expected >= 0) {
      const Conn* held = find_conn(expected);
      bool gone = !held || !is_socket(held->get_kind()) ||
                  held->opened_ns.load(std::memory_order_relaxed) != s.opened.load(std::memory_order_relaxed);
      if (!gone) continue;
    } else if (expected != -1) {
      continue;  // being filled
    }
    if (!s.fd.compare_exchange_strong(expected, -2)) continue;
    s.opened.store(c->opened_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s.fd.store(fd, std::memory_order_release);
    int used = g_stalls_used.load(std::memory_order_relaxed);
    while (used < i + 1 && !g_stalls_used.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
    }
    return &s;
  }
  return nullptr;
}

uint8_t dirs_of(const Rule& r) {
  return static_cast<uint8_t>(((r.calls & rule_lang::kInput) ? kIn : 0) | ((r.calls & rule_lang::kOutput) ? kOut : 0));
}

bool nonblocking_call(int fd, int flags) {
  if (flags & MSG_DONTWAIT) return true;
  int fl = real<Call::fcntl>()(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

// The program's own SO_RCVTIMEO / SO_SNDTIMEO (0: none).
uint64_t own_timeout_ns(int fd, const Conn* c, bool input) {
  if (!c->has(input ? cf_rcvtimeo : cf_sndtimeo)) return 0;
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (real<Call::getsockopt>()(fd, SOL_SOCKET, input ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, &len) != 0) return 0;
  return static_cast<uint64_t>(tv.tv_sec) * 1000000000u + static_cast<uint64_t>(tv.tv_usec) * 1000u;
}

// A word nobody ever changes: a futex wait on it ends only by its timeout
// or a signal, with the kernel's own restart rules: without a timeout it
// is restarted after a SA_RESTART handler and fails with EINTR after any
// other, as a blocking read of a socket without SO_RCVTIMEO is; with one it
// fails with EINTR, as a read under SO_RCVTIMEO does.
int g_never_changes = 0;

enum class Blocked { timed_out, interrupted, reset_due };

// Blocks the calling thread until `until` (kNever: for good), a signal, or
// the reset, whichever comes first.
Blocked block_until(uint64_t until, uint64_t reset_at) {
  for (;;) {
    uint64_t now = now_mono_ns();
    uint64_t end = reset_at && reset_at < until ? reset_at : until;
    if (end != kNever && now >= end) return reset_at && end == reset_at ? Blocked::reset_due : Blocked::timed_out;
    timespec ts{};
    if (end != kNever) ts = timespec{static_cast<time_t>((end - now) / 1000000000u), static_cast<long>((end - now) % 1000000000u)};
    long r = syscall(SYS_futex, &g_never_changes, FUTEX_WAIT_PRIVATE, 0, end == kNever ? nullptr : &ts, nullptr, 0);
    if (r < 0 && errno == EINTR) return Blocked::interrupted;
  }
}

void stall_over(int fd, StallSlot* s) {
  if ((s->dirs.load(std::memory_order_relaxed) & kIn)) end_hold(fd);
  s->fd.store(-1, std::memory_order_release);
}

// The stall's reset: the peer gets an RST, this call ECONNRESET.
Verdict reset_now(Call call, int fd, Conn* c, StallSlot* s) {
  const Rule* rule = s->rule.load(std::memory_order_relaxed);
  stall_over(fd, s);
  c->clear(cf_stalled);
  inject_abort(fd, c, rule);
  char after[32], note[128];
  seconds_text(rule->wait_ns, after);
  std::snprintf(note, sizeof(note), "the stalled connection was reset %s after the stall began: the peer received an RST",
                after);
  inject_record(call, fd, rule, CodeKind::errno_code, ECONNRESET, -1, note);
  Verdict v;
  v.kind = Verdict::fail;
  v.code = ECONNRESET;
  return v;
}

// The call on a stalled direction: EAGAIN at once when it would not block;
// else it waits as for data or room that never come.
Verdict stall_call(Call call, bool input, int fd, Conn* c, StallSlot* s, int flags) {
  uint64_t reset_at = s->reset_at.load(std::memory_order_relaxed);
  uint64_t now = now_mono_ns();
  if (reset_at && now >= reset_at) return reset_now(call, fd, c, s);
  Verdict v;
  v.kind = Verdict::fail;
  v.code = EAGAIN;
  if (nonblocking_call(fd, flags)) return v;
  uint64_t own = own_timeout_ns(fd, c, input);
  switch (block_until(own ? now + own : kNever, reset_at)) {
    case Blocked::timed_out: break;
    case Blocked::interrupted: v.code = EINTR; break;
    case Blocked::reset_due: return reset_now(call, fd, c, s);
  }
  return v;
}

}  // namespace

void seconds_text(uint64_t ns, char (&buf)[32]) {
  unsigned long long ms = ns / 1000000;
  int n = std::snprintf(buf, sizeof(buf), "%llu.%03llu", ms / 1000, ms % 1000);
  while (n > 0 && buf[n - 1] == '0') buf[--n] = '\0';
  if (n > 0 && buf[n - 1] == '.') buf[--n] = '\0';
  std::snprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n), " s");
}

void stall_arm(const RuleSet& set) {
  for (uint32_t i = 0; i < set.count; ++i)
    if (set.rules[i].action == RuleAction::stall) {
      g_stall_rules = true;
      g_readiness = true;
      // A reset due at a time: the waits make its read due then.
      if (set.rules[i].wait_ns) g_input_due_rules = true;
    }
}

bool stalled_io(Call call, bool input, int fd, Conn* c, int flags, Verdict* v) {
  StallSlot* s = find_stall(fd, c);
  if (!s) {
    c->clear(cf_stalled);
    return false;
  }
  if (!(s->dirs.load(std::memory_order_relaxed) & (input ? kIn : kOut))) return false;
  *v = stall_call(call, input, fd, c, s, flags);
  return true;
}

namespace {
// The stall begins: its slot, the connection's mark and the record. With
// `hold`, the input is held back here (else the wait that asks holds it).
StallSlot* begin_stall(Call call, int fd, Conn* c, const Rule* rule, bool hold) {
  if (!c || c->get_kind() == Kind::udp4 || c->get_kind() == Kind::udp6 || c->get_kind() == Kind::unix_dgram)
    return nullptr;
  StallSlot* s = find_stall(fd, c);
  if (!s) s = new_stall(fd, c);
  if (!s) return nullptr;  // more stalls at once than the table holds: this one is not made
  uint8_t dirs = dirs_of(*rule);
  uint64_t now = now_mono_ns();
  s->rule.store(rule, std::memory_order_relaxed);
  s->reset_at.store(rule->wait_ns ? now + rule->wait_ns : 0, std::memory_order_relaxed);
  s->dirs.store(dirs, std::memory_order_release);
  if (hold && (dirs & kIn)) start_hold(fd, c, rule->wait_ns ? now + rule->wait_ns : kStalled);
  c->set(cf_stalled);
  inject_mark(c, rule);
  char after[32], note[160];
  seconds_text(rule->wait_ns, after);
  const char* what = dirs == (kIn | kOut) ? "stalled both ways: nothing sent or received will arrive"
                     : dirs == kIn        ? "input stalled: no data will arrive"
                                          : "output stalled: nothing sent will arrive, writes get no room";
  if (rule->wait_ns)
    std::snprintf(note, sizeof(note), "%s; the connection is reset in %s", what, after);
  else
    std::snprintf(note, sizeof(note), "%s, until the program gives up", what);
  inject_record(call, fd, rule, CodeKind::event, ev_injected_delay, 0, note);
  return s;
}
}  // namespace

Verdict start_stall(Call call, bool input, int fd, Conn* c, const Rule* rule, int flags) {
  StallSlot* s = begin_stall(call, fd, c, rule, true);
  return s ? stall_call(call, input, fd, c, s, flags) : Verdict{};
}

uint64_t stall_from_wait(Call wait, int fd, Conn* c, const Rule* rule) {
  if (!begin_stall(wait, fd, c, rule, false)) return 0;
  return rule->wait_ns ? rule->wait_ns : kStalled - now_mono_ns();
}

bool output_stalled(int fd) {
  Conn* c = fd >= 0 ? find_conn(fd) : nullptr;
  if (!c || !c->has(cf_stalled)) return false;
  StallSlot* s = find_stall(fd, c);
  if (!s || !(s->dirs.load(std::memory_order_relaxed) & kOut)) return false;
  uint64_t reset_at = s->reset_at.load(std::memory_order_relaxed);
  return !reset_at || now_mono_ns() < reset_at;
}

uint64_t stall_reset_due(int fd, const Conn* c) {
  if (!c || !c->has(cf_stalled)) return kNever;
  StallSlot* s = find_stall(fd, c);
  uint64_t reset_at = s ? s->reset_at.load(std::memory_order_relaxed) : 0;
  return reset_at ? reset_at : kNever;
}

}  // namespace sd
