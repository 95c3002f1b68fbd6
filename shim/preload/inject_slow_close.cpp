// Delayed FINs (inject_slow_close.h says how).
#include "inject_slow_close.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>

#include "fdtable.h"
#include "inject_readiness.h"
#include "inject_stall.h"
#include "log.h"

namespace sd {
namespace {

// The copies waiting for their time. A slot is claimed by compare-and-swap
// of its fd (-2 while being filled or emptied); no lock, no allocation.
struct Delayed {
  std::atomic<int> fd{-1};
  std::atomic<uint64_t> due{0};
  dev_t dev = 0;  // the socket's identity: a number the program reused is not closed
  ino_t ino = 0;
  int how = -1;  // shutdown's, made on the copy before it is closed; -1: a close
};
constexpr int kDelayed = 64;
Delayed g_delayed[kDelayed];
std::atomic<int> g_waiting{0};

// Closes slot `s` if it still holds the library's copy.
void close_copy(Delayed& s, int fd) {
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_dev == s.dev && st.st_ino == s.ino) {
    if (s.how >= 0) real<Call::shutdown>()(fd, s.how);
    real<Call::close>()(fd);
  }
  s.fd.store(-1, std::memory_order_release);
  g_waiting.fetch_sub(1, std::memory_order_relaxed);
}

// Closes every copy due by `now`; with `wait`, waits for the others' time
// first (at exit).
void close_due(uint64_t now, bool wait) {
  for (Delayed& s : g_delayed) {
    int fd = s.fd.load(std::memory_order_acquire);
    if (fd < 0) continue;
    uint64_t due = s.due.load(std::memory_order_relaxed);
    if (due > now && !wait) continue;
    if (!s.fd.compare_exchange_strong(fd, -2)) continue;  // another thread closes it
    if (due > now) {
      timespec ts{static_cast<time_t>(due / 1000000000u), static_cast<long>(due % 1000000000u)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    close_copy(s, fd);
  }
}

}  // namespace

bool delay_fin(Call call, int fd, const Rule* rule, int how) {
  Conn* c = find_conn(fd);
  Kind k = c ? c->get_kind() : kind_of(fd);
  // Datagrams have no FIN; a socket never connected no peer.
  if (!(k == Kind::tcp4 || k == Kind::tcp6 || k == Kind::unix_stream) || !c || !c->has(cf_established) ||
      how == SHUT_RD || (how >= 0 && how != SHUT_WR && how != SHUT_RDWR))
    return false;
  const char* refused = nullptr;
  Delayed* slot = nullptr;
  for (Delayed& s : g_delayed) {
    int expected = -1;
    if (s.fd.compare_exchange_strong(expected, -2)) {
      slot = &s;
      break;
    }
  }
  int copy = -1;
  struct stat st {};
  if (!slot) {
    refused = "the FIN was not delayed: too many closes wait already";
  } else {
    // A copy at the top of the fd range: the lowest number it takes first
    // is free again before the program's close returns.
    int low = real<Call::fcntl>()(fd, F_DUPFD_CLOEXEC, 0);
    copy = low >= 0 ? move_high(low) : -1;
    if (copy >= 0 && copy == low) {
      real<Call::close>()(copy);  // no number above the program's free: it would hold one the program expects
      copy = -1;
    }
    if (copy < 0 || fstat(copy, &st) != 0) {
      if (copy >= 0) real<Call::close>()(copy);
      slot->fd.store(-1, std::memory_order_release);
      refused = "the FIN was not delayed: no descriptor free for the library's copy";
    }
  }
  char after[32], note[128];
  seconds_text(rule->wait_ns, after);
  if (!refused) {
    slot->dev = st.st_dev;
    slot->ino = st.st_ino;
    slot->how = how;
    slot->due.store(now_mono_ns() + rule->wait_ns, std::memory_order_relaxed);
    g_waiting.fetch_add(1, std::memory_order_relaxed);
    slot->fd.store(copy, std::memory_order_release);
    std::snprintf(note, sizeof(note), "the FIN was delayed %s: the peer reads the end of stream then", after);
  }
  inject_record(call, fd, rule, CodeKind::event, ev_injected_delay, 0, refused ? refused : note);
  return refused == nullptr;
}

void slow_close_arm(const RuleSet& set) {
  for (uint32_t i = 0; i < set.count; ++i)
    if (set.rules[i].action == RuleAction::slow_close) g_readiness = true;
}

uint64_t slow_close_wake(uint64_t now) {
  if (__builtin_expect(g_waiting.load(std::memory_order_relaxed) == 0, 1)) return kNever;
  close_due(now, false);
  uint64_t next = kNever;
  for (const Delayed& s : g_delayed)
    if (s.fd.load(std::memory_order_acquire) >= 0) next = std::min(next, s.due.load(std::memory_order_relaxed));
  return next;
}

void slow_close_due() {
  if (__builtin_expect(g_waiting.load(std::memory_order_relaxed) == 0, 1)) return;
  close_due(now_mono_ns(), false);
}

void slow_close_after_fork() {
  // The child's copies would keep the parent's sockets open: dropped.
  for (Delayed& s : g_delayed) {
    int fd = s.fd.load(std::memory_order_relaxed);
    if (fd < 0) continue;
    real<Call::close>()(fd);
    s.fd.store(-1, std::memory_order_relaxed);
  }
  g_waiting.store(0, std::memory_order_relaxed);
}

bool is_slow_close_fd(int fd) {
  if (fd < 0 || g_waiting.load(std::memory_order_relaxed) == 0) return false;
  for (const Delayed& s : g_delayed)
    if (s.fd.load(std::memory_order_acquire) == fd) return true;
  return false;
}

}  // namespace sd

// At exit the FINs still waiting go out at their time, not before: the
// process ends after its last delayed close is due.
__attribute__((destructor)) static void sockdiag_slow_close_at_exit() {
  if (sd::g_waiting.load(std::memory_order_relaxed) != 0) sd::close_due(sd::now_mono_ns(), true);
}
