// Stalled connections (inject_stall.h says what a stall is).
#include "inject_stall.h"

#include <fcntl.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "control.h"
#include "control_file.h"
#include "fdtable.h"
#include "inject_readiness.h"
#include "rule_vocabulary.h"
#include "socket_slots.h"

namespace sd {

std::atomic<bool> g_stall_rules{false};

namespace {

constexpr uint8_t kIn = 1, kOut = 2;

// One stall per connection (socket_slots.h): few stall at once.
struct Stall {
  std::atomic<uint8_t> dirs{0};
  std::atomic<uint64_t> reset_at{0};  // 0: never
  std::atomic<const Rule*> rule{nullptr};
  std::atomic<uint8_t> shut{0};  // directions the program shut down since the stall began
};
constexpr int kStallSlots = static_cast<int>(ctlfile::kStallWakes);
SocketSlots<Stall, kStallSlots> g_stalls;
using StallSlot = decltype(g_stalls)::Slot;

// The calls blocked on each slot's stall, by direction, and what wakes
// them: the program's shutdown (stall_shutdown), and under live control
// `sockdiag ctl` after a change (the control file holds them then:
// control_file.h). Made once, as a blocked call of an earlier socket may
// still wait on them.
ctlfile::StallWake g_private_wakes[kStallSlots];
std::atomic<ctlfile::StallWake*> g_wakes{g_private_wakes};

ctlfile::StallWake& wake_of(StallSlot& s) {
  return g_wakes.load(std::memory_order_acquire)[&s - g_stalls.begin()];
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

enum class Blocked { timed_out, interrupted, reset_due, shut_down, lifted };

// One blocked call, counted for the wake-ups (a cancellation that unwinds
// the call counts it out too). Counted in before it looks at why it waits:
// a wake-up after that finds it counted (control_file.h).
struct Waiting {
  std::atomic<int>& n;
  explicit Waiting(std::atomic<int>& w) : n(w) { n.fetch_add(1, std::memory_order_seq_cst); }
  ~Waiting() { n.fetch_sub(1, std::memory_order_acq_rel); }
};

// Whether the rule that began the stall is still in force. Under live
// control a change may take it away (remove, clear, replace, pause): the
// cable is plugged back in. Looks at a change not taken in yet first.
bool in_force(const StallSlot& s) {
  if (!control_enabled()) return true;
  if (control_pending()) control_apply();
  return rule_in_force(s.rule.load(std::memory_order_relaxed));
}

// Blocks the calling thread until `until` (kNever: for good), a signal, the
// reset, or the program's shutdown of this direction, whichever comes first.
// A semaphore nobody posts but stall_shutdown is waited on, because its wait
// behaves as a socket's blocking wait does: without a timeout it is
// restarted after a SA_RESTART handler and fails with EINTR after any
// other, as a blocking read of a socket without SO_RCVTIMEO is; with one
// it fails with EINTR, as a read under SO_RCVTIMEO does; it is a
// cancellation point, as read and write are; and a runtime that intercepts
// blocking calls (libtsan runs signal handlers inside them) sees it, where
// it would not see a raw futex system call.
Blocked block_until(StallSlot& s, bool input, uint64_t until, uint64_t reset_at) {
  uint8_t dir = input ? kIn : kOut;
  ctlfile::StallWake& w = wake_of(s);
  Waiting counted(w.waiting[input]);
  for (;;) {
    if (s.shut.load(std::memory_order_acquire) & dir) return Blocked::shut_down;
    if (!in_force(s)) return Blocked::lifted;
    uint64_t now = now_mono_ns();
    uint64_t end = reset_at && reset_at < until ? reset_at : until;
    if (end != kNever && now >= end) return reset_at && end == reset_at ? Blocked::reset_due : Blocked::timed_out;
    int r;
    if (end == kNever) {
      r = sem_wait(&w.wake[input]);
    } else {
      timespec ts{static_cast<time_t>(end / 1000000000u), static_cast<long>(end % 1000000000u)};
      r = sem_clockwait(&w.wake[input], CLOCK_MONOTONIC, &ts);
    }
    if (r != 0 && errno == EINTR) return Blocked::interrupted;
  }
}

void stall_over(int fd, StallSlot* s) {
  if ((s->dirs.load(std::memory_order_relaxed) & kIn)) end_hold(fd);
  s->fd.store(-1, std::memory_order_release);
}

// The stall's rule left (in_force): the connection carries data again, as
// a cable plugged back in before the peer gave up. The data the peer sent
// meanwhile is there to read, writes get room, the waits report both.
void lift(Call call, int fd, Conn* c, StallSlot* s) {
  uint8_t dirs = s->dirs.exchange(0, std::memory_order_acq_rel);
  if (!dirs) return;  // another thread lifted it
  const Rule* rule = s->rule.load(std::memory_order_relaxed);
  if (dirs & kIn) end_hold(fd);
  if (dirs & kOut) output_room_back(fd);
  s->fd.store(-1, std::memory_order_release);
  c->clear(cf_stalled);
  inject_record(call, fd, rule, CodeKind::event, ev_injected_delay, 0,
                "the stall ended: its rule is no longer in force (sockdiag ctl); the connection carries data again");
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

// A call on a stalled direction the program has shut down. Input: the end
// of stream, as a read after SHUT_RD with nothing arrived gets. Output: the
// real call, which fails with EPIPE (and SIGPIPE) as after SHUT_WR.
Verdict after_shutdown(bool input) {
  Verdict v;
  if (input) v.kind = Verdict::eof;
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
  switch (block_until(*s, input, own ? now + own : kNever, reset_at)) {
    case Blocked::timed_out: break;
    case Blocked::interrupted: v.code = EINTR; break;
    case Blocked::reset_due: return reset_now(call, fd, c, s);
    case Blocked::shut_down: return after_shutdown(input);
    case Blocked::lifted: lift(call, fd, c, s); return Verdict{};  // the real call now
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
  static std::atomic<bool> wakes_made{false};
  for (uint32_t i = 0; i < set.count; ++i)
    if (set.rules[i].action == RuleAction::stall) {
      if (!wakes_made.exchange(true))
        for (ctlfile::StallWake& w : g_private_wakes) {
          sem_init(&w.wake[0], 0, 0);
          sem_init(&w.wake[1], 0, 0);
        }
      g_stall_rules = true;
      g_readiness = true;
      // A reset due at a time: the waits make its read due then.
      if (set.rules[i].wait_ns) g_input_due_rules = true;
    }
}

bool stalled_io(Call call, bool input, int fd, Conn* c, int flags, Verdict* v) {
  StallSlot* s = g_stalls.find(fd, c);
  if (!s) {
    c->clear(cf_stalled);
    return false;
  }
  uint8_t dir = input ? kIn : kOut;
  if (!(s->dirs.load(std::memory_order_relaxed) & dir)) return false;
  if (!in_force(*s)) {
    lift(call, fd, c, s);
    return false;
  }
  *v = (s->shut.load(std::memory_order_acquire) & dir) ? after_shutdown(input) : stall_call(call, input, fd, c, s, flags);
  return true;
}

namespace {
// The stall begins: its slot, the connection's mark and the record. With
// `hold`, the input is held back here (else the wait that asks holds it).
StallSlot* begin_stall(Call call, int fd, Conn* c, const Rule* rule, bool hold) {
  if (!c || is_datagram(c->get_kind()))
    return nullptr;
  StallSlot* s = g_stalls.find(fd, c);
  if (!s) s = g_stalls.claim(fd, c, [](StallSlot& fresh) { fresh.shut.store(0, std::memory_order_relaxed); });
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
  StallSlot* s = g_stalls.find(fd, c);
  if (!s || !(s->dirs.load(std::memory_order_relaxed) & kOut)) return false;
  uint64_t reset_at = s->reset_at.load(std::memory_order_relaxed);
  return !reset_at || now_mono_ns() < reset_at;
}

uint64_t stall_reset_due(int fd, const Conn* c) {
  if (!c || !c->has(cf_stalled)) return kNever;
  StallSlot* s = g_stalls.find(fd, c);
  uint64_t reset_at = s ? s->reset_at.load(std::memory_order_relaxed) : 0;
  return reset_at ? reset_at : kNever;
}

void stall_shutdown(int fd, Conn* c, int how) {
  StallSlot* s = g_stalls.find(fd, c);
  if (!s) return;
  uint8_t dirs = how == SHUT_RD ? kIn : how == SHUT_WR ? kOut : (kIn | kOut);
  s->shut.fetch_or(dirs, std::memory_order_acq_rel);
  // The waits report the end of stream (the kernel says readable after SHUT_RD).
  if ((dirs & kIn) && (s->dirs.load(std::memory_order_relaxed) & kIn)) end_hold(fd);
  // One post per blocked call of the direction: each finds the direction
  // shut, and none waits again on it.
  for (int input = 0; input < 2; ++input)
    if (dirs & (input ? kIn : kOut)) ctlfile::wake_waiters(wake_of(*s), input);
}

void stall_wakes_in(ctlfile::StallWake* file_wakes) {
  if (file_wakes)
    for (unsigned i = 0; i < ctlfile::kStallWakes; ++i) {
      sem_init(&file_wakes[i].wake[0], 1, 0);
      sem_init(&file_wakes[i].wake[1], 1, 0);
    }
  g_wakes.store(file_wakes ? file_wakes : g_private_wakes, std::memory_order_release);
}

uint64_t stall_watch(Call wait, uint64_t now) {
  if (!g_stall_rules.load(std::memory_order_relaxed) || !control_enabled()) return kNever;
  bool stalled = false;
  g_stalls.each_used([&](StallSlot& s) {
    int fd = s.fd.load(std::memory_order_acquire);
    Conn* c = fd >= 0 ? find_conn(fd) : nullptr;
    if (!c || g_stalls.find(fd, c) != &s || !s.dirs.load(std::memory_order_relaxed)) return;
    if (in_force(s)) stalled = true;
    else lift(wait, fd, c, &s);
  });
  return stalled ? now + kStallWatchNs : kNever;
}

}  // namespace sd
