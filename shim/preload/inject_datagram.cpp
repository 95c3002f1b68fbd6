// Datagram faults (see inject_datagram.h).
#include "inject_datagram.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

#include "inject.h"
#include "inject_readiness.h"
#include "log.h"

namespace sd {

std::size_t limit_iov(iovec* iov, std::size_t n, std::size_t max);  // observe.cpp

namespace {

// ---- The pool of held datagrams ----------------------------------------------
// A slot is claimed free -> busy (filled) -> held; taken held -> busy -> free.
// Only the thread that moved a slot to busy touches its fields.
enum : uint8_t { kFree, kBusy, kHeld };

struct HeldDatagram {
  std::atomic<uint8_t> state{kFree};
  bool outgoing;
  int fd;
  std::atomic<uint64_t> passes_left;  // reorder=N: datagrams still to overtake it
  uint64_t deadline;                  // reorder=T: CLOCK_MONOTONIC ns; else 0
  const Rule* rule;
  Call call;
  int flags;                          // a sent one's MSG_* flags
  std::size_t len;
  socklen_t namelen;
  sockaddr_storage name;
  char data[kHeldDatagramBytes];
};

// Mapped when a datagram is first held: 2 MiB of address space that a
// process holding none (every process without a reorder rule) never
// reserves, as .bss would for every program (RLIMIT_AS counts it).
std::atomic<HeldDatagram*> g_pool{nullptr};
std::atomic<unsigned> g_held_count{0};  // slots not free: 0 is the common, cheap case

// The slots, for a range-for: none before the pool is mapped.
struct Slots {
  HeldDatagram* first;
  HeldDatagram* begin() const { return first; }
  HeldDatagram* end() const { return first ? first + kHeldDatagrams : first; }
};
Slots held_slots() { return Slots{g_pool.load(std::memory_order_acquire)}; }

// mmap, not malloc: a hook may hold a datagram in a signal handler.
HeldDatagram* map_pool() {
  HeldDatagram* pool = g_pool.load(std::memory_order_acquire);
  if (pool) return pool;
  void* m = mmap(nullptr, sizeof(HeldDatagram) * kHeldDatagrams, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (m == MAP_FAILED) return nullptr;
  auto* fresh = static_cast<HeldDatagram*>(m);
  for (unsigned i = 0; i < kHeldDatagrams; ++i) new (&fresh[i]) HeldDatagram();
  if (g_pool.compare_exchange_strong(pool, fresh, std::memory_order_acq_rel)) return fresh;
  munmap(m, sizeof(HeldDatagram) * kHeldDatagrams);  // another thread mapped it first
  return pool;
}

HeldDatagram* claim_slot() {
  if (!map_pool()) return nullptr;
  for (HeldDatagram& h : held_slots()) {
    uint8_t st = kFree;
    if (h.state.compare_exchange_strong(st, kBusy, std::memory_order_acquire)) {
      g_held_count.fetch_add(1, std::memory_order_relaxed);
      return &h;
    }
  }
  return nullptr;
}

void free_slot(HeldDatagram* h) {
  h->state.store(kFree, std::memory_order_release);
  g_held_count.fetch_sub(1, std::memory_order_relaxed);
}

bool due(const HeldDatagram& h, uint64_t now) {
  return h.passes_left.load(std::memory_order_relaxed) == 0 || (h.deadline && now >= h.deadline);
}

// Takes a held datagram of `fd` in direction `outgoing` that is due (or
// any, with `all`), leaving it busy.
HeldDatagram* take_due(int fd, bool outgoing, bool all) {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return nullptr;
  uint64_t now = all ? 0 : now_mono_ns();
  for (HeldDatagram& h : held_slots()) {
    if (h.state.load(std::memory_order_acquire) != kHeld || h.fd != fd || h.outgoing != outgoing) continue;
    if (!all && !due(h, now)) continue;
    uint8_t st = kHeld;
    if (h.state.compare_exchange_strong(st, kBusy, std::memory_order_acquire)) return &h;
  }
  return nullptr;
}

// One more datagram went past the held ones of `fd` in that direction.
void count_pass(int fd, bool outgoing) {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return;
  for (HeldDatagram& h : held_slots()) {
    if (h.state.load(std::memory_order_acquire) != kHeld || h.fd != fd || h.outgoing != outgoing) continue;
    uint64_t left = h.passes_left.load(std::memory_order_relaxed);
    while (left > 0 && left != UINT64_MAX &&
           !h.passes_left.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
    }
  }
}

void note_injected(Call call, int fd, Conn* c, const Rule* rule, bool aftermath, const char* fmt, ...)
    __attribute__((format(printf, 6, 7)));
void note_injected(Call call, int fd, Conn* c, const Rule* rule, bool aftermath, const char* fmt, ...) {
  char note[160];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(note, sizeof(note), fmt, ap);
  va_end(ap);
  record_injected(call, fd, c, rule, note, aftermath);
}

// The byte count of a msghdr's iovecs, read through the kernel.
bool total_of(const msghdr* m, std::size_t* total) {
  iovec first[1];
  return copy_program_iov(m->msg_iov, static_cast<long>(m->msg_iovlen), first, 0, total);
}

// Sends a held datagram as it was asked for, and frees its slot.
void send_held(HeldDatagram* h) {
  iovec iov{h->data, h->len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (h->namelen) {
    m.msg_name = &h->name;
    m.msg_namelen = h->namelen;
  }
  int err = errno;
  real<Call::sendmsg>()(h->fd, &m, (h->flags & ~MSG_DONTWAIT) | MSG_NOSIGNAL);
  errno = err;
  free_slot(h);
}

void send_due(int fd) {
  while (HeldDatagram* h = take_due(fd, true, false)) send_held(h);
}

// A sent datagram, for real; it counts as passing the held ones.
ssize_t send_now(int fd, const msghdr* m, int flags) {
  ssize_t r = real<Call::sendmsg>()(fd, m, flags | MSG_NOSIGNAL);
  if (r >= 0) {
    int err = errno;
    count_pass(fd, true);
    send_due(fd);
    errno = err;
  }
  return r;
}

// Holds a datagram back under `rule`: copies it (and its address) into a
// slot. False when it cannot be held (no slot, too big, memory unreadable).
void hold(HeldDatagram* h, int fd, bool outgoing, Call call, const Rule* rule, int flags) {
  h->outgoing = outgoing;
  h->fd = fd;
  h->rule = rule;
  h->call = call;
  h->flags = flags;
  h->passes_left.store(rule->reorder_n ? rule->reorder_n : UINT64_MAX, std::memory_order_relaxed);
  h->deadline = rule->reorder_n ? 0 : now_mono_ns() + rule->wait_ns;
  h->state.store(kHeld, std::memory_order_release);
}

const char* hold_note(const Rule* rule, char (&buf)[64]) {
  if (rule->reorder_n)
    std::snprintf(buf, sizeof(buf), "held back behind %llu datagram%s",
                  static_cast<unsigned long long>(rule->reorder_n), rule->reorder_n == 1 ? "" : "s");
  else
    std::snprintf(buf, sizeof(buf), "held back %llu.%03llu ms", static_cast<unsigned long long>(rule->wait_ns / 1000000),
                  static_cast<unsigned long long>(rule->wait_ns / 1000 % 1000));
  return buf;
}

ssize_t send_held_back(Call call, int fd, Conn* c, const Rule* rule, const msghdr* m, int flags, std::size_t total) {
  HeldDatagram* h = total <= kHeldDatagramBytes ? claim_slot() : nullptr;
  std::size_t got = 0;
  bool copied = false;
  if (h) {
    iovec iov[64];
    std::size_t n = m->msg_iovlen < 64 ? m->msg_iovlen : 64;
    std::size_t all;
    copied = copy_program_iov(m->msg_iov, static_cast<long>(m->msg_iovlen), iov, 64, &all) && m->msg_iovlen <= 64;
    for (std::size_t i = 0; copied && i < n; ++i) {
      copied = copy_from_program(h->data + got, iov[i].iov_base, iov[i].iov_len);
      got += iov[i].iov_len;
    }
    h->namelen = 0;
    if (copied && m->msg_name && m->msg_namelen) {
      copied = m->msg_namelen <= sizeof(h->name) && copy_from_program(&h->name, m->msg_name, m->msg_namelen);
      h->namelen = m->msg_namelen;
    }
  }
  if (h && !copied) {
    free_slot(h);
    return send_now(fd, m, flags);  // memory the kernel would refuse: its own answer
  }
  if (!h) {
    ssize_t r = send_now(fd, m, flags);
    if (r >= 0)
      note_injected(call, fd, c, rule, false, "not held back: %s; the datagram passed in order",
                    total > kHeldDatagramBytes ? "too big for the pool (64 KiB a datagram)"
                                               : "the pool of held datagrams is full (32)");
    return r;
  }
  h->len = got;
  char buf[64];
  hold(h, fd, true, call, rule, flags);
  note_injected(call, fd, c, rule, false, "%s (%zu bytes)", hold_note(rule, buf), total);
  return static_cast<ssize_t>(total);
}

// ---- Receiving ---------------------------------------------------------------

bool nonblocking(int fd, int flags) {
  if (flags & MSG_DONTWAIT) return true;
  int fl = real<Call::fcntl>()(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

// Hands a held datagram to the read `m`, as the kernel would have: cut to
// the buffer (MSG_TRUNC), its address, no control data.
ssize_t deliver_held(HeldDatagram* h, msghdr* m, int flags) {
  iovec iov[64];
  std::size_t total;
  std::size_t n = m->msg_iovlen < 64 ? m->msg_iovlen : 64;
  if (!copy_program_iov(m->msg_iov, static_cast<long>(m->msg_iovlen), iov, 64, &total)) {
    // The program's buffers are not usable: the datagram waits for a read that is.
    h->state.store(kHeld, std::memory_order_release);
    errno = EFAULT;
    return -1;
  }
  std::size_t done = 0;
  for (std::size_t i = 0; i < n && done < h->len; ++i) {
    std::size_t part = iov[i].iov_len < h->len - done ? iov[i].iov_len : h->len - done;
    if (!copy_to_program(iov[i].iov_base, h->data + done, part)) {
      h->state.store(kHeld, std::memory_order_release);
      errno = EFAULT;
      return -1;
    }
    done += part;
  }
  if (m->msg_name) {
    socklen_t room = m->msg_namelen < h->namelen ? m->msg_namelen : h->namelen;
    if (!copy_to_program(m->msg_name, &h->name, room)) {
      h->state.store(kHeld, std::memory_order_release);
      errno = EFAULT;
      return -1;
    }
    m->msg_namelen = h->namelen;
  }
  m->msg_controllen = 0;
  m->msg_flags = done < h->len ? MSG_TRUNC : 0;
  ssize_t r = static_cast<ssize_t>((flags & MSG_TRUNC) ? h->len : done);
  // A peek leaves it for the next read, as the kernel leaves a datagram.
  if (flags & MSG_PEEK) h->state.store(kHeld, std::memory_order_release);
  else free_slot(h);
  return r;
}

// Reads one datagram of the kernel's into a slot, to hold it back.
bool receive_into(HeldDatagram* h, int fd, int flags, ssize_t* r) {
  iovec iov{h->data, kHeldDatagramBytes};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_name = &h->name;
  m.msg_namelen = sizeof(h->name);
  *r = real<Call::recvmsg>()(fd, &m, flags & ~(MSG_PEEK | MSG_TRUNC));
  if (*r < 0) return false;
  h->len = static_cast<std::size_t>(*r);
  h->namelen = m.msg_namelen;
  return true;
}

// The kernel's next datagram for the program's read; it counts as passing
// the held ones. A blocking read waits no longer than a held datagram's
// time: *timed_out then, and the held one is due.
ssize_t receive_now(int fd, msghdr* m, int flags, bool* timed_out, bool passes = true) {
  *timed_out = false;
  if (g_held_count.load(std::memory_order_relaxed) != 0 && !nonblocking(fd, flags)) {
    uint64_t soonest = 0;
    for (HeldDatagram& h : held_slots())
      if (h.state.load(std::memory_order_acquire) == kHeld && h.fd == fd && !h.outgoing && h.deadline &&
          (!soonest || h.deadline < soonest))
        soonest = h.deadline;
    if (soonest) {
      uint64_t now = now_mono_ns();
      uint64_t left = soonest > now ? soonest - now : 0;
      // The program's own SO_RCVTIMEO, when shorter, ends the read first (EAGAIN).
      timeval tv{};
      socklen_t tl = sizeof(tv);
      uint64_t own = 0;
      if (real<Call::getsockopt>()(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) == 0 && tv.tv_sec >= 0 && tv.tv_usec >= 0)
        own = static_cast<uint64_t>(tv.tv_sec) * 1000000000u + static_cast<uint64_t>(tv.tv_usec) * 1000u;
      bool own_first = own && own < left;
      if (own_first) left = own;
      timespec ts{static_cast<time_t>(left / 1000000000u), static_cast<long>(left % 1000000000u)};
      pollfd p{fd, POLLIN, 0};
      int n = real<Call::ppoll>()(&p, 1, &ts, nullptr);
      if (n == 0) {
        if (own_first) {
          errno = EAGAIN;
          return -1;
        }
        *timed_out = true;
        return -1;
      }
      if (n < 0) return -1;  // EINTR: the program's signal, as its read would say
    }
  }
  ssize_t r = real<Call::recvmsg>()(fd, m, flags);
  if (r >= 0 && passes && !(flags & MSG_PEEK)) count_pass(fd, false);
  return r;
}

// What a read of one datagram meets: a held one that is due, the rule's
// fault, or the kernel's next datagram.
ssize_t recv_one(Call call, int fd, Conn* c, const Rule* rule, msghdr* m, int flags) {
  for (;;) {
    if (HeldDatagram* h = take_due(fd, false, false)) return deliver_held(h, m, flags);
    if (!rule || !is_datagram_action(rule->action)) {
      bool timed_out;
      ssize_t r = receive_now(fd, m, flags, &timed_out);
      if (timed_out) continue;  // a held datagram is due now
      return r;
    }
    switch (rule->action) {
      case RuleAction::drop: {
        // Consumed whole (a zero-length read takes a whole datagram); MSG_TRUNC says its size.
        msghdr none{};
        bool timed_out;
        ssize_t r = receive_now(fd, &none, (flags & ~MSG_PEEK) | MSG_TRUNC, &timed_out, false);
        if (timed_out) continue;
        if (r < 0) return r;
        note_injected(call, fd, c, rule, true, "the datagram was dropped (%zd bytes): the program never sees it", r);
        break;
      }
      case RuleAction::duplicate: {
        // Read and left queued: the next read gets it again, from the same address.
        bool timed_out;
        ssize_t r = receive_now(fd, m, flags | MSG_PEEK, &timed_out);
        if (timed_out) continue;
        if (r >= 0) note_injected(call, fd, c, rule, false, "the datagram arrives twice: the next read gets it again");
        return r;
      }
      case RuleAction::truncate: {
        iovec iov[64];
        std::size_t total;
        if (m->msg_iovlen > 64 || !copy_program_iov(m->msg_iov, static_cast<long>(m->msg_iovlen), iov, 64, &total))
          return real<Call::recvmsg>()(fd, m, flags);  // the kernel's own refusal
        std::size_t keep = total < rule->bytes ? total : static_cast<std::size_t>(rule->bytes);
        msghdr cut = *m;
        cut.msg_iov = iov;
        cut.msg_iovlen = limit_iov(iov, m->msg_iovlen, keep);
        bool timed_out;
        ssize_t r = receive_now(fd, &cut, flags | MSG_TRUNC, &timed_out);
        if (timed_out) continue;
        if (r < 0) return r;
        m->msg_namelen = cut.msg_namelen;
        m->msg_controllen = cut.msg_controllen;
        m->msg_flags = cut.msg_flags;
        std::size_t whole = static_cast<std::size_t>(r);
        if (whole > keep && keep < total)
          note_injected(call, fd, c, rule, false, "cut to %zu of %zu bytes", keep, whole);
        return static_cast<ssize_t>((flags & MSG_TRUNC) || whole < keep ? whole : keep);
      }
      case RuleAction::reorder: {
        HeldDatagram* h = claim_slot();
        if (!h) {
          bool timed_out;
          ssize_t r = receive_now(fd, m, flags, &timed_out);
          if (timed_out) continue;
          if (r >= 0) note_injected(call, fd, c, rule, false, "not held back: the pool of held datagrams is full (32); the datagram passed in order");
          return r;
        }
        // Its size first: one too big for a slot passes in order.
        char none;
        iovec probe_iov{&none, 0};
        msghdr probe{};
        probe.msg_iov = &probe_iov;
        probe.msg_iovlen = 1;
        bool timed_out;
        ssize_t size = receive_now(fd, &probe, (flags | MSG_PEEK | MSG_TRUNC), &timed_out);
        if (timed_out || size < 0) {
          free_slot(h);
          if (timed_out) continue;
          return size;
        }
        if (static_cast<std::size_t>(size) > kHeldDatagramBytes) {
          free_slot(h);
          ssize_t r = receive_now(fd, m, flags, &timed_out);
          if (r >= 0) note_injected(call, fd, c, rule, false, "not held back: too big for the pool (64 KiB a datagram); the datagram passed in order");
          return r;
        }
        ssize_t r;
        if (!receive_into(h, fd, flags | MSG_DONTWAIT, &r)) {
          free_slot(h);
          return r;
        }
        char buf[64];
        hold(h, fd, false, call, rule, 0);
        note_injected(call, fd, c, rule, false, "%s (%zd bytes)", hold_note(rule, buf), r);
        break;
      }
      default:
        break;
    }
    // The read goes on to the next datagram, which takes its own call number.
    Verdict v;
    rule = next_datagram_rule(call, fd, c, &v);
    if (v.kind == Verdict::fail) {
      errno = v.code;
      return -1;
    }
  }
}

}  // namespace

DatagramQueue datagram_queue(int fd) {
  int err = errno;
  pollfd p{fd, POLLIN, 0};
  timespec now{0, 0};
  int n = real<Call::ppoll>()(&p, 1, &now, nullptr);
  errno = err;
  if (n <= 0) return DatagramQueue::empty;
  return p.revents & (POLLERR | POLLNVAL) ? DatagramQueue::error
         : p.revents & POLLIN             ? DatagramQueue::ready
                                          : DatagramQueue::empty;
}

bool drop_ready_datagram(Call wait, int fd, Conn* c, const Rule* rule) {
  int err = errno;
  // Consumed whole (a zero-length read takes a whole datagram); MSG_TRUNC says its size.
  msghdr none{};
  ssize_t r = real<Call::recvmsg>()(fd, &none, MSG_DONTWAIT | MSG_TRUNC);
  errno = err;
  if (r < 0) return false;
  note_injected(wait, fd, c, rule, true, "the datagram was dropped (%zd bytes): the program never sees it", r);
  return true;
}

ssize_t datagram_send(Call call, int fd, Conn* c, const Rule* rule, const msghdr* m, int flags) {
  send_due(fd);
  std::size_t total = 0;
  if (!rule || !is_datagram_action(rule->action) || !total_of(m, &total)) return send_now(fd, m, flags);
  switch (rule->action) {
    case RuleAction::drop:
      note_injected(call, fd, c, rule, true, "the datagram was dropped (%zu bytes): the send says it went", total);
      count_pass(fd, true);
      send_due(fd);
      return static_cast<ssize_t>(total);
    case RuleAction::duplicate: {
      ssize_t r = send_now(fd, m, flags);
      if (r < 0) return r;
      int err = errno;
      bool again = real<Call::sendmsg>()(fd, m, flags | MSG_NOSIGNAL | MSG_DONTWAIT) >= 0;
      errno = err;
      note_injected(call, fd, c, rule, false, again ? "sent twice" : "sent once: the second copy found no room");
      return r;
    }
    case RuleAction::truncate: {
      if (total <= rule->bytes) return send_now(fd, m, flags);
      iovec iov[64];
      std::size_t all;
      if (m->msg_iovlen > 64 || !copy_program_iov(m->msg_iov, static_cast<long>(m->msg_iovlen), iov, 64, &all))
        return send_now(fd, m, flags);
      msghdr cut = *m;
      cut.msg_iov = iov;
      cut.msg_iovlen = limit_iov(iov, m->msg_iovlen, static_cast<std::size_t>(rule->bytes));
      ssize_t r = send_now(fd, &cut, flags);
      if (r < 0) return r;
      note_injected(call, fd, c, rule, false, "cut to %zd of %zu bytes: the send says all went", r, total);
      return static_cast<ssize_t>(total);
    }
    case RuleAction::reorder:
      return send_held_back(call, fd, c, rule, m, flags, total);
    default:
      return send_now(fd, m, flags);
  }
}

ssize_t datagram_recv(Call call, int fd, Conn* c, const Rule* rule, msghdr* m, int flags) {
  send_due(fd);  // a held sent datagram whose time came goes out at the socket's next call
  return recv_one(call, fd, c, rule, m, flags);
}

int datagram_sendmmsg(Call call, int fd, Conn* c, const Rule* first, mmsghdr* vec, unsigned vlen, int flags) {
  if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;  // the kernel's own cap of a batch
  unsigned done = 0;
  const Rule* rule = first;
  for (; done < vlen; ++done) {
    if (done > 0) {
      Verdict v;
      rule = next_datagram_rule(call, fd, c, &v);
      if (v.kind == Verdict::fail) break;  // the batch ends before this message, as a send error ends it
    }
    msghdr m;
    if (!copy_from_program(&m, &vec[done].msg_hdr, sizeof(m))) {
      errno = EFAULT;
      break;
    }
    ssize_t r = datagram_send(call, fd, c, rule, &m, flags);
    if (r < 0) break;
    unsigned len = static_cast<unsigned>(r);
    if (!copy_to_program(&vec[done].msg_len, &len, sizeof(len))) {
      errno = EFAULT;
      break;
    }
  }
  return done ? static_cast<int>(done) : -1;
}

int datagram_recvmmsg(Call call, int fd, Conn* c, const Rule* first, mmsghdr* vec, unsigned vlen, int flags,
                      const timespec* timeout) {
  if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;
  unsigned done = 0;
  const Rule* rule = first;
  int err = errno;
  for (; done < vlen; ++done) {
    // After the first: without waiting when the program said so (MSG_WAITFORONE),
    // or gave a timeout (the batch ends with what is there).
    int f = flags & ~MSG_WAITFORONE;
    if (done > 0 && ((flags & MSG_WAITFORONE) || timeout)) f |= MSG_DONTWAIT;
    if (done > 0) {
      Verdict v;
      rule = next_datagram_rule(call, fd, c, &v);
      if (v.kind == Verdict::fail) break;
    }
    msghdr m;
    if (!copy_from_program(&m, &vec[done].msg_hdr, sizeof(m))) {
      err = EFAULT;
      break;
    }
    ssize_t r = datagram_recv(call, fd, c, rule, &m, f);
    if (r < 0) {
      err = errno;
      break;
    }
    unsigned len = static_cast<unsigned>(r);
    if (!copy_to_program(&vec[done].msg_hdr, &m, sizeof(m)) || !copy_to_program(&vec[done].msg_len, &len, sizeof(len))) {
      err = EFAULT;
      break;
    }
  }
  if (done) return static_cast<int>(done);
  errno = err;
  return -1;
}

bool datagrams_held(int fd) {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return false;
  for (HeldDatagram& h : held_slots())
    if (h.state.load(std::memory_order_acquire) != kFree && h.fd == fd) return true;
  return false;
}

uint64_t held_datagram_due(int fd) {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return 0;
  uint64_t best = 0;
  for (HeldDatagram& h : held_slots()) {
    if (h.state.load(std::memory_order_acquire) != kHeld || h.fd != fd || h.outgoing) continue;
    uint64_t at = h.passes_left.load(std::memory_order_relaxed) == 0 ? 1 : h.deadline;
    if (at && (!best || at < best)) best = at;
  }
  return best;
}

uint64_t datagram_send_wake(uint64_t now) {
  if (__builtin_expect(g_held_count.load(std::memory_order_relaxed) == 0, 1)) return kNever;
  uint64_t next = kNever;
  for (HeldDatagram& h : held_slots()) {
    if (h.state.load(std::memory_order_acquire) != kHeld || !h.outgoing || !h.deadline) continue;
    if (h.deadline > now) {
      next = std::min(next, h.deadline);
      continue;
    }
    uint8_t st = kHeld;
    if (h.state.compare_exchange_strong(st, kBusy, std::memory_order_acquire)) send_held(&h);
  }
  return next;
}

void datagram_close(int fd) {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return;
  while (HeldDatagram* h = take_due(fd, true, true)) send_held(h);
  while (HeldDatagram* h = take_due(fd, false, true)) {
    note_injected(h->call, fd, nullptr, h->rule, false,
                  "a datagram held back was still held when the socket closed: lost with it");
    free_slot(h);
  }
}

void datagram_flush_all() {
  if (g_held_count.load(std::memory_order_relaxed) == 0) return;
  for (HeldDatagram& h : held_slots()) {
    uint8_t st = kHeld;
    if (h.outgoing && h.state.compare_exchange_strong(st, kBusy, std::memory_order_acquire)) send_held(&h);
  }
}

void datagram_after_fork() {
  for (HeldDatagram& h : held_slots()) h.state.store(kFree, std::memory_order_relaxed);
  g_held_count.store(0, std::memory_order_relaxed);
}

}  // namespace sd
