// Input held back like a slow peer's, and idle connections' faults made
// due, seen through the waits (inject_readiness.h says why).
#include "inject_readiness.h"

#include <atomic>
#include <climits>
#include <cstring>

#include "inject.h"
#include "inject_datagram.h"
#include "inject_slow_close.h"
#include "inject_stall.h"
#include "socket_slots.h"

namespace sd {

std::atomic<bool> g_readiness{false};
std::atomic<bool> g_input_hold_rules{false};
std::atomic<bool> g_input_hold_counted{false};
std::atomic<bool> g_input_drop_rules{false};
std::atomic<bool> g_keep_registrations{false};
std::atomic<bool> g_input_due_rules{false};

namespace {

// What the peer's data brings with it to a wait: a slow peer's end of
// stream and its reset come after its data, so they are held with it.
constexpr short kPollInput = POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP;
constexpr short kPollPeer = kPollInput | POLLHUP | POLLERR;
constexpr uint32_t kEpollInput = EPOLLIN | EPOLLRDNORM | EPOLLRDBAND | EPOLLPRI | EPOLLRDHUP;
constexpr uint32_t kEpollPeer = kEpollInput | EPOLLHUP | EPOLLERR;
// A stalled output has no room to report (inject_stall.h).
constexpr short kPollOutput = POLLOUT | POLLWRNORM | POLLWRBAND;
constexpr uint32_t kEpollOutput = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;

// Datagrams a wait drops before it reports the socket (a sender faster
// than the drops must not keep the wait from its own timeout).
constexpr unsigned kDropsPerWait = 64;

bool no_room(int fd) { return g_stall_rules.load(std::memory_order_relaxed) && output_stalled(fd); }

// One hold per socket (socket_slots.h): few connections are held at once.
struct Hold {
  std::atomic<uint8_t> state{0};
  std::atomic<uint64_t> deadline{0};
  // epoll: the registration the hold took the input out of, to give back.
  std::atomic<int> epfd{-1};
  std::atomic<uint32_t> events{0};
  std::atomic<uint64_t> data{0};
};
SocketSlots<Hold, 1024> g_holds;
using HoldSlot = decltype(g_holds)::Slot;

HoldSlot* new_hold(int fd, const Conn* c, HoldState st, uint64_t deadline) {
  return g_holds.claim(fd, c, [&](HoldSlot& s) {
    s.state.store(static_cast<uint8_t>(st), std::memory_order_relaxed);
    s.deadline.store(deadline, std::memory_order_relaxed);
    s.epfd.store(-1, std::memory_order_relaxed);
  });
}

HoldState state_of(const HoldSlot& s) { return static_cast<HoldState>(s.state.load(std::memory_order_relaxed)); }

// epoll registrations, by (epfd, fd): open addressing; a deleted entry
// keeps its place (epfd -2) until reused.
struct Registration {
  std::atomic<int> epfd{-1};
  std::atomic<int> fd{-1};
  std::atomic<uint32_t> events{0};
  std::atomic<uint64_t> data{0};
  std::atomic<uint64_t> due_told{0};  // the due time an edge-triggered registration was told of
};
constexpr unsigned kRegistrations = 4096;
Registration g_regs[kRegistrations];
std::atomic<unsigned> g_regs_used{0};

unsigned reg_hash(int epfd, int fd) {
  return (static_cast<unsigned>(epfd) * 2654435761u ^ static_cast<unsigned>(fd) * 40503u) % kRegistrations;
}

Registration* find_reg(int epfd, int fd, bool create) {
  unsigned h = reg_hash(epfd, fd);
  Registration* free_slot = nullptr;
  for (unsigned i = 0; i < kRegistrations; ++i) {
    Registration& r = g_regs[(h + i) % kRegistrations];
    int e = r.epfd.load(std::memory_order_acquire);
    if (e == epfd && r.fd.load(std::memory_order_relaxed) == fd) return &r;
    if (e == -2 && !free_slot) free_slot = &r;
    if (e == -1) {
      if (!create) return nullptr;
      if (!free_slot) free_slot = &r;
      break;
    }
  }
  if (!free_slot) return nullptr;
  int e = free_slot->epfd.load(std::memory_order_relaxed);
  if (!free_slot->epfd.compare_exchange_strong(e, -3)) return nullptr;  // another thread took it
  free_slot->fd.store(fd, std::memory_order_relaxed);
  free_slot->due_told.store(0, std::memory_order_relaxed);
  free_slot->epfd.store(epfd, std::memory_order_release);
  g_regs_used.fetch_add(1, std::memory_order_relaxed);
  return free_slot;
}

// Sets what `fd`'s registration in `epfd` asks for and hands back (every
// change the library makes to a program's registration). Leaves errno
// alone: the program's call around it did not make this one.
bool modify_registration(int epfd, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{events, {}};
  ev.data.u64 = data;
  int err = errno;
  bool done = real<Call::epoll_ctl>()(epfd, EPOLL_CTL_MOD, fd, &ev) == 0;
  errno = err;
  return done;
}

// A socket whose input a rule may hold or end (a listener's readiness is
// a connection to accept: not input).
Conn* socket_conn(int fd) {
  Conn* c = fd >= 0 ? find_conn(fd) : nullptr;
  return c && is_socket(c->get_kind()) && !c->has(cf_listening) ? c : nullptr;
}

// The deadline of the hold on `fd` while it holds (kNever: none). A hold
// whose deadline passed is released here.
uint64_t held_until(int fd, uint64_t now) {
  Conn* c = socket_conn(fd);
  HoldSlot* s = c ? g_holds.find(fd, c) : nullptr;
  if (!s || state_of(*s) != HoldState::held) return kNever;
  uint64_t d = s->deadline.load(std::memory_order_relaxed);
  if (d > now) return d;
  s->state.store(static_cast<uint8_t>(HoldState::released), std::memory_order_relaxed);
  return kNever;
}

// A wait found input ready on `fd`: true when it is held back (a hold in
// force, or one the delay rules start now; their answer is remembered until
// the next read, which they must not be asked about again), or when the
// rules dropped every datagram that was in (then `*out` stays null).
bool hold_ready_input(Call wait, int fd, uint64_t now, HoldSlot** out = nullptr) {
  Conn* c = socket_conn(fd);
  if (!c) return false;
  HoldSlot* s = g_holds.find(fd, c);
  if (s) {
    if (out) *out = s;
    return state_of(*s) == HoldState::held && s->deadline.load(std::memory_order_relaxed) > now;
  }
  if (!g_input_hold_rules) return false;
  uint64_t ns = 0;
  for (unsigned dropped = 0;; ++dropped) {
    if (dropped == kDropsPerWait) return false;  // a flood: the reads decide for the rest
    // Datagrams the rules may drop: only one the kernel has for a read,
    // with no error pending (taking it would take the error, which is the
    // program's to read).
    if (g_input_drop_rules && is_datagram(c->get_kind())) {
      // With datagrams held back (reorder), the read decides what comes next.
      if (datagrams_held(fd)) return false;
      DatagramQueue q = datagram_queue(fd);
      if (q != DatagramQueue::ready) return dropped && q == DatagramQueue::empty;
    }
    bool drop = false;
    ns = input_hold_ns(wait, fd, c, &drop);
    if (!drop) break;
  }
  // A "no" is remembered only where asking again could say otherwise (the
  // rules count calls): it keeps a slot until the read.
  if (!ns && !g_input_hold_counted) return false;
  s = new_hold(fd, c, ns ? HoldState::held : HoldState::probed, now + ns);
  if (out) *out = s;
  return ns != 0 && s != nullptr;
}

// When the next read of `fd` is due to meet a rule that ends its input;
// kNever when none will.
uint64_t due_at(int fd) {
  if (!g_input_due_rules) return kNever;
  Conn* c = socket_conn(fd);
  if (!c || c->has(cf_reset | cf_eof_forced)) return kNever;
  // A stalled connection's reset is its next read's due time, nothing else.
  if (c->has(cf_stalled)) return stall_reset_due(fd, c);
  uint64_t t = input_due_at(fd, c);
  return t ? t : kNever;
}

uint64_t min_of(uint64_t a, uint64_t b) { return a < b ? a : b; }

// The time until `until` as a timespec for the real call; nullptr: forever.
const timespec* wait_time(uint64_t until, uint64_t now, timespec* ts) {
  if (until >= kStalled) return nullptr;
  uint64_t left = until > now ? until - now : 0;
  *ts = timespec{static_cast<time_t>(left / 1000000000u), static_cast<long>(left % 1000000000u)};
  return ts;
}

uint64_t end_of(const timespec* timeout, uint64_t start) {
  if (!timeout) return kNever;
  if (timeout->tv_sec < 0) return start;
  if (timeout->tv_sec > 1000000000) return kNever;  // over 31 years: no end the clock reaches
  return start + static_cast<uint64_t>(timeout->tv_sec) * 1000000000u + static_cast<uint64_t>(timeout->tv_nsec);
}

}  // namespace

HoldState take_hold(int fd, const Conn* c, uint64_t* deadline) {
  HoldSlot* s = c ? g_holds.find(fd, c) : nullptr;
  if (!s) return HoldState::none;
  HoldState st = state_of(*s);
  *deadline = s->deadline.load(std::memory_order_relaxed);
  if (st == HoldState::held && *deadline <= now_mono_ns()) st = HoldState::released;
  if (st != HoldState::held) end_hold(fd);
  return st;
}

bool start_hold(int fd, const Conn* c, uint64_t deadline) {
  if (HoldSlot* s = g_holds.find(fd, c)) {
    s->deadline.store(deadline, std::memory_order_relaxed);
    s->state.store(static_cast<uint8_t>(HoldState::held), std::memory_order_relaxed);
    return true;
  }
  return new_hold(fd, c, HoldState::held, deadline) != nullptr;
}

void end_hold(int fd) {
  g_holds.each_used([fd](HoldSlot& s) {
    if (s.fd.load(std::memory_order_acquire) != fd) return;
    int e = s.epfd.load(std::memory_order_relaxed);
    if (e >= 0) {
      // The registration the hold took the input out of is given back.
      modify_registration(e, fd, s.events.load(std::memory_order_relaxed), s.data.load(std::memory_order_relaxed));
    }
    s.fd.store(-1, std::memory_order_release);
  });
}

void epoll_registered(int epfd, int op, int fd, const epoll_event* ev) {
  if (op == EPOLL_CTL_DEL) {
    if (Registration* r = find_reg(epfd, fd, false)) {
      r->epfd.store(-2, std::memory_order_release);
      g_regs_used.fetch_sub(1, std::memory_order_relaxed);
    }
    Conn* c = socket_conn(fd);
    if (HoldSlot* s = c ? g_holds.find(fd, c) : nullptr)
      if (s->epfd.load(std::memory_order_relaxed) == epfd) s->epfd.store(-1, std::memory_order_relaxed);
    return;
  }
  Registration* r = find_reg(epfd, fd, true);
  if (!r) return;
  r->events.store(ev->events, std::memory_order_relaxed);
  r->data.store(ev->data.u64, std::memory_order_relaxed);
  r->due_told.store(0, std::memory_order_relaxed);
  // The program changed a registration a hold has taken the input out of:
  // the hold gives back the new one, and keeps the input out until then.
  Conn* c = socket_conn(fd);
  HoldSlot* s = c ? g_holds.find(fd, c) : nullptr;
  if (s && s->epfd.load(std::memory_order_relaxed) == epfd) {
    s->events.store(ev->events, std::memory_order_relaxed);
    s->data.store(ev->data.u64, std::memory_order_relaxed);
    modify_registration(epfd, fd, ev->events & ~kEpollInput, ev->data.u64);
  }
}

// ---- poll, ppoll ------------------------------------------------------------------
namespace {

// The entries a pass took input out of, to put back after the real call.
struct PollMasks {
  static constexpr int kMax = 64;
  int count = 0;
  nfds_t index[kMax];
  int fd[kMax];
  short events[kMax];
  void restore(pollfd* fds) {
    for (int i = 0; i < count; ++i) {
      fds[index[i]].fd = fd[i];
      fds[index[i]].events = events[i];
    }
  }
};

// Before a real call: the earliest time something held or due changes.
// With `masks` (the array is known good: the kernel has read and written
// it), held entries lose their input events, or the whole entry (~fd: poll
// ignores a negative fd) when nothing else is asked of it, so that the
// kernel does not report them again at once. Without, the array is read
// through the kernel.
uint64_t prepare_poll(pollfd* fds, nfds_t n, uint64_t now, PollMasks* masks) {
  uint64_t wake = kNever;
  pollfd chunk[64];
  for (nfds_t base = 0; base < n; base += 64) {
    nfds_t m = n - base < 64 ? n - base : 64;
    const pollfd* p = fds + base;
    if (!masks) {
      if (!copy_from_program(chunk, fds + base, m * sizeof(pollfd))) return kNever;
      p = chunk;
    }
    for (nfds_t i = 0; i < m; ++i) {
      int fd = p[i].fd;
      if (fd < 0) continue;
      short drop = 0;
      if ((p[i].events & kPollOutput) && no_room(fd)) {
        drop |= kPollOutput;
        wake = min_of(wake, stall_reset_due(fd, find_conn(fd)));
      }
      if (p[i].events & (POLLIN | POLLRDNORM)) {
        uint64_t until = held_until(fd, now);
        if (until != kNever) {
          wake = min_of(wake, until);
          drop |= kPollInput;
        } else {
          wake = min_of(wake, due_at(fd));
        }
      }
      if (drop && masks && masks->count < PollMasks::kMax) {
        pollfd& e = fds[base + i];
        int k = masks->count++;
        masks->index[k] = base + i;
        masks->fd[k] = e.fd;
        masks->events[k] = e.events;
        e.events &= ~drop;
        // Nothing left to ask of it: left out (poll ignores a negative fd).
        if (!(e.events & (kPollInput | kPollOutput))) e.fd = ~e.fd;
      }
    }
  }
  return wake;
}

// After a real call: held input hidden (holds starting on input first seen
// ready), due input shown. Returns the entries with events.
int filter_poll(Call wait, pollfd* fds, nfds_t n, uint64_t now) {
  int ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    pollfd& p = fds[i];
    if (p.fd < 0) continue;
    short rev = p.revents;
    if ((rev & (POLLIN | POLLRDNORM | POLLHUP | POLLERR | POLLRDHUP)) && (p.events & (POLLIN | POLLRDNORM)) &&
        hold_ready_input(wait, p.fd, now))
      rev &= ~kPollPeer;
    if (!(rev & (POLLIN | POLLRDNORM)) && (p.events & (POLLIN | POLLRDNORM)) && held_until(p.fd, now) == kNever &&
        due_at(p.fd) <= now)
      rev |= p.events & (POLLIN | POLLRDNORM);
    if ((rev & kPollOutput) && no_room(p.fd)) rev &= ~kPollOutput;
    p.revents = rev;
    if (rev) ++ready;
  }
  return ready;
}

// What the library itself has to do at a time while the program waits
// (delayed FINs, sent datagrams held back for a time, stalls whose rule
// left): done now where due; when the next is (kNever: nothing).
uint64_t library_due(Call wait, uint64_t now) {
  return min_of(min_of(slow_close_wake(now), datagram_send_wake(now)), stall_watch(wait, now));
}

}  // namespace

int held_poll(Call wait, int (*real_fn)(pollfd*, nfds_t, const timespec*, const sigset_t*), pollfd* fds, nfds_t n,
              const timespec* timeout, const sigset_t* mask) {
  uint64_t start = now_mono_ns();
  uint64_t end = end_of(timeout, start);
  bool known_good = false;
  for (;;) {
    uint64_t now = now_mono_ns();
    PollMasks masks;
    uint64_t wake = min_of(prepare_poll(fds, n, now, known_good ? &masks : nullptr), library_due(wait, now));
    timespec ts;
    int r = real_fn(fds, n, wait_time(min_of(end, wake), now, &ts), mask);
    int err = errno;
    masks.restore(fds);
    if (r < 0) {
      errno = err;
      return r;
    }
    known_good = true;
    now = now_mono_ns();
    r = filter_poll(wait, fds, n, now);
    if (r > 0 || now >= end) return r;
  }
}

// ---- select, pselect ----------------------------------------------------------------
namespace {
constexpr int kMaxSelectFds = 8 * 1024;
constexpr std::size_t kSetWords = kMaxSelectFds / 64;

struct Sets {
  uint64_t r[kSetWords], w[kSetWords], e[kSetWords];
};

bool isset(const void* set, int fd) { return (static_cast<const uint64_t*>(set)[fd / 64] >> (fd % 64)) & 1u; }
void setbit(void* set, int fd, bool on) {
  uint64_t& w = static_cast<uint64_t*>(set)[fd / 64];
  w = on ? w | (uint64_t{1} << (fd % 64)) : w & ~(uint64_t{1} << (fd % 64));
}
int count_bits(const void* set, std::size_t words) {
  int c = 0;
  for (std::size_t i = 0; i < words; ++i) c += __builtin_popcountll(static_cast<const uint64_t*>(set)[i]);
  return c;
}
}  // namespace

int held_select(Call wait, int (*real_fn)(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*), int n,
                fd_set* rs, fd_set* ws, fd_set* es, const timespec* timeout, const sigset_t* mask, timeval* tv) {
  // Sets beyond what the library keeps a copy of: the call as it is.
  // A wait for writing alone matters only to a stalled output.
  if (n < 0 || n > kMaxSelectFds || (!rs && !(ws && g_stall_rules))) return real_fn(n, rs, ws, es, timeout, mask);
  std::size_t words = (static_cast<std::size_t>(n) + 63) / 64;
  std::size_t bytes = words * 8;
  Sets asked;
  if (!rs) std::memset(asked.r, 0, bytes);
  if ((rs && !copy_from_program(asked.r, rs, bytes)) || (ws && !copy_from_program(asked.w, ws, bytes)) ||
      (es && !copy_from_program(asked.e, es, bytes)))
    return real_fn(n, rs, ws, es, timeout, mask);
  uint64_t start = now_mono_ns();
  uint64_t end = end_of(timeout, start);
  // The sets are written only once the kernel has written them (a set it
  // cannot write is its EFAULT): the first call gets the program's own.
  bool known_good = false;
  for (;;) {
    uint64_t now = now_mono_ns();
    uint64_t wake = library_due(wait, now);
    if (known_good) {
      if (rs) std::memcpy(rs, asked.r, bytes);
      if (ws) std::memcpy(ws, asked.w, bytes);
      if (es) std::memcpy(es, asked.e, bytes);
    }
    for (int fd = 0; fd < n; ++fd) {
      if (ws && isset(asked.w, fd) && no_room(fd)) {
        wake = min_of(wake, stall_reset_due(fd, find_conn(fd)));
        if (known_good) setbit(ws, fd, false);
      }
      if (!isset(asked.r, fd)) continue;
      uint64_t until = held_until(fd, now);
      if (until != kNever) {
        wake = min_of(wake, until);
        if (known_good) setbit(rs, fd, false);
      } else {
        wake = min_of(wake, due_at(fd));
      }
    }
    timespec ts;
    int r = real_fn(n, rs, ws, es, wait_time(min_of(end, wake), now, &ts), mask);
    if (r < 0) return r;
    known_good = true;
    now = now_mono_ns();
    for (int fd = 0; fd < n; ++fd) {
      if (ws && isset(ws, fd) && no_room(fd)) setbit(ws, fd, false);
      if (!isset(asked.r, fd)) continue;
      if (isset(rs, fd) && hold_ready_input(wait, fd, now)) setbit(rs, fd, false);
      if (!isset(rs, fd) && held_until(fd, now) == kNever && due_at(fd) <= now) setbit(rs, fd, true);
    }
    r = (rs ? count_bits(rs, words) : 0) + (ws ? count_bits(ws, words) : 0) + (es ? count_bits(es, words) : 0);
    if (r > 0 || now >= end) {
      if (tv) {
        // Linux's select says how much of the timeout is left; glibc writes
        // it back itself, and faults as the program's own code would on a
        // timeval it cannot write: so does this.
        uint64_t left = end > now ? end - now : 0;
        *tv = timeval{static_cast<time_t>(left / 1000000000u), static_cast<suseconds_t>(left % 1000000000u / 1000)};
      }
      return r;
    }
  }
}

// ---- epoll_wait, epoll_pwait ----------------------------------------------------------
namespace {

// Holds on this epoll set whose deadline passed give their registration
// back, which makes the kernel report the input again (edge-triggered too);
// the earliest deadline and due time still ahead.
uint64_t prepare_epoll(int epfd, uint64_t now) {
  uint64_t wake = kNever;
  g_holds.each_used([&](HoldSlot& s) {
    int fd = s.fd.load(std::memory_order_acquire);
    if (fd < 0 || s.epfd.load(std::memory_order_relaxed) != epfd) return;
    uint64_t until = held_until(fd, now);
    if (until != kNever) {
      wake = min_of(wake, until);
      return;
    }
    int e = epfd;
    if (!s.epfd.compare_exchange_strong(e, -1)) return;
    modify_registration(epfd, fd, s.events.load(std::memory_order_relaxed), s.data.load(std::memory_order_relaxed));
  });
  if (!g_input_due_rules || g_regs_used.load(std::memory_order_relaxed) == 0) return wake;
  for (Registration& r : g_regs) {
    if (r.epfd.load(std::memory_order_acquire) != epfd || !(r.events.load(std::memory_order_relaxed) & EPOLLIN)) continue;
    uint64_t due = due_at(r.fd.load(std::memory_order_relaxed));
    if (due != kNever && r.due_told.load(std::memory_order_relaxed) != due) wake = min_of(wake, due);
  }
  return wake;
}

}  // namespace

void output_room_back(int fd) {
  if (g_regs_used.load(std::memory_order_relaxed) == 0) return;
  Conn* c = socket_conn(fd);
  HoldSlot* s = c ? g_holds.find(fd, c) : nullptr;
  for (Registration& r : g_regs) {
    int epfd = r.epfd.load(std::memory_order_acquire);
    if (epfd < 0 || r.fd.load(std::memory_order_relaxed) != fd) continue;
    uint32_t events = r.events.load(std::memory_order_relaxed);
    if (!(events & kEpollOutput)) continue;
    // A hold on its input keeps the input out until its own end.
    if (s && s->epfd.load(std::memory_order_relaxed) == epfd) events &= ~kEpollInput;
    modify_registration(epfd, fd, events, r.data.load(std::memory_order_relaxed));
  }
}

namespace {

// Takes the input out of the registration of a held fd until its deadline.
void mask_registration(int epfd, int fd, HoldSlot* s) {
  if (!s || s->epfd.load(std::memory_order_relaxed) >= 0) return;
  Registration* r = find_reg(epfd, fd, false);
  if (!r) return;
  uint32_t events = r->events.load(std::memory_order_relaxed);
  s->events.store(events, std::memory_order_relaxed);
  s->data.store(r->data.load(std::memory_order_relaxed), std::memory_order_relaxed);
  uint32_t masked = events & ~kEpollInput;
  // Nothing else asked of it: one report of a hang-up at most, not one per
  // wait until the deadline.
  if (!(masked & (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND))) masked |= EPOLLONESHOT;
  if (modify_registration(epfd, fd, masked, r->data.load(std::memory_order_relaxed)))
    s->epfd.store(epfd, std::memory_order_relaxed);
}

// A stalled output's room is taken out of its registration for good (it
// never comes: a level-triggered one would wake every wait at once); a
// registration the program makes anew is taken out again by the next wait.
void take_out_output(int epfd, int fd) {
  Registration* r = find_reg(epfd, fd, false);
  if (!r) return;
  modify_registration(epfd, fd, r->events.load(std::memory_order_relaxed) & ~kEpollOutput,
                      r->data.load(std::memory_order_relaxed));
}

// The datagrams a wait reported were all dropped: a one-shot registration,
// which the kernel disarmed as it reported them, is armed again, as the
// program would arm it after its read. False when the registration is not
// known (made before any rule needed it): the wait then reports the socket
// (its read finds nothing) rather than leave it disarmed for good.
bool rearm_after_drop(int epfd, int fd) {
  Registration* r = find_reg(epfd, fd, false);
  if (!r) return false;
  uint32_t events = r->events.load(std::memory_order_relaxed);
  return !(events & EPOLLONESHOT) || modify_registration(epfd, fd, events, r->data.load(std::memory_order_relaxed));
}

int filter_epoll(Call wait, int epfd, epoll_event* ev, int ready, int max, uint64_t now) {
  int out = 0;
  for (int i = 0; i < ready; ++i) {
    epoll_event e = ev[i];
    if (e.events & kEpollOutput) {
      int fd = fd_of_epoll_data(e.data.u64);
      if (fd >= 0 && no_room(fd)) {
        e.events &= ~kEpollOutput;
        take_out_output(epfd, fd);
      }
    }
    if (e.events & (kEpollInput | EPOLLHUP | EPOLLERR)) {
      int fd = fd_of_epoll_data(e.data.u64);
      HoldSlot* s = nullptr;
      if (fd >= 0 && hold_ready_input(wait, fd, now, &s)) {
        if (s) mask_registration(epfd, fd, s);
        // No hold: the datagrams that were in were dropped, nothing came.
        if (s || rearm_after_drop(epfd, fd)) e.events &= ~kEpollPeer;
      }
    }
    if (e.events) ev[out++] = e;
  }
  // Due input on registrations the kernel has nothing to report for: told
  // once for an edge-triggered one (there is no new edge after), at every
  // wait for a level-triggered one.
  if (!g_input_due_rules || g_regs_used.load(std::memory_order_relaxed) == 0) return out;
  for (Registration& r : g_regs) {
    if (out >= max) break;
    uint32_t events = r.events.load(std::memory_order_relaxed);
    if (r.epfd.load(std::memory_order_acquire) != epfd || !(events & EPOLLIN)) continue;
    int fd = r.fd.load(std::memory_order_relaxed);
    uint64_t due = due_at(fd);
    if (due > now || held_until(fd, now) != kNever) continue;
    if ((events & EPOLLET) && r.due_told.load(std::memory_order_relaxed) == due) continue;
    uint64_t data = r.data.load(std::memory_order_relaxed);
    bool listed = false;
    for (int i = 0; i < out && !listed; ++i) listed = ev[i].data.u64 == data;
    if (listed) continue;
    epoll_event add{EPOLLIN, {}};
    add.data.u64 = data;
    if (!copy_to_program(&ev[out], &add, sizeof(add))) break;
    ++out;
    r.due_told.store(due, std::memory_order_relaxed);
  }
  return out;
}

}  // namespace

int held_epoll(Call wait, int (*real_fn)(int, epoll_event*, int, int, const sigset_t*), int epfd, epoll_event* ev,
               int max, int timeout_ms, const sigset_t* mask) {
  uint64_t start = now_mono_ns();
  uint64_t end = timeout_ms < 0 ? kNever : start + static_cast<uint64_t>(timeout_ms) * 1000000u;
  for (;;) {
    uint64_t now = now_mono_ns();
    uint64_t until = min_of(end, min_of(prepare_epoll(epfd, now), library_due(wait, now)));
    // Whole milliseconds, rounded up: never back before the time.
    uint64_t left_ms = until == kNever ? 0 : (until > now ? until - now + 999999 : 0) / 1000000;
    int ms = until == kNever ? -1 : static_cast<int>(left_ms < INT_MAX ? left_ms : INT_MAX);
    int r = real_fn(epfd, ev, max, ms, mask);
    if (r < 0) return r;
    now = now_mono_ns();
    r = filter_epoll(wait, epfd, ev, r, max, now);
    if (r > 0 || now >= end) return r;
  }
}

}  // namespace sd
