// State kept for the few sockets a fault acts on at once (input held back,
// stalled connections): a fixed table, no allocation, no lock, so that the
// hooks may use it in a signal handler or right after fork.
// A slot belongs to one socket, not to a number: its fd and the connection's
// opened_ns, so that a new socket on a reused number never inherits a fault
// meant for the one the program closed. A slot is claimed by compare-and-swap
// of its fd (-2 while it is being filled), and the scans stop at the highest
// slot ever used.
#pragma once
#include <atomic>
#include <cstdint>

#include "fdtable.h"

namespace sd {

template <class State, int N>
class SocketSlots {
 public:
  struct Slot : State {
    std::atomic<int> fd{-1};
    std::atomic<uint64_t> opened{0};
  };

  // The slot of fd's socket `c`, or nullptr. Slots of an earlier socket on
  // the number are freed on the way.
  Slot* find(int fd, const Conn* c) {
    int used = used_.load(std::memory_order_acquire);
    for (int i = 0; i < used; ++i) {
      Slot& s = slots_[i];
      if (s.fd.load(std::memory_order_acquire) != fd) continue;
      if (c && s.opened.load(std::memory_order_relaxed) == c->opened_ns.load(std::memory_order_relaxed)) return &s;
      s.fd.store(-1, std::memory_order_release);
    }
    return nullptr;
  }

  // A slot for fd's socket `c`: a free one first, else one whose socket is
  // gone (a wait may have found input on a socket the program then closed
  // without reading it). `fill(slot)` sets the state before any scan can see
  // the slot. nullptr: the table is full.
  template <class Fill>
  Slot* claim(int fd, const Conn* c, Fill fill) {
    for (int pass = 0; pass < 2; ++pass)
      for (int i = 0; i < N; ++i) {
        Slot& s = slots_[i];
        int expected = s.fd.load(std::memory_order_relaxed);
        if (pass == 0 ? expected != -1 : !stale(s)) continue;
        if (!s.fd.compare_exchange_strong(expected, -2)) continue;
        s.opened.store(c->opened_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
        fill(s);
        s.fd.store(fd, std::memory_order_release);
        int used = used_.load(std::memory_order_relaxed);
        while (used < i + 1 && !used_.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
        }
        return &s;
      }
    return nullptr;
  }

  // `f(slot)` for each slot up to the highest used (free ones included:
  // `f` reads the fd).
  template <class F>
  void each_used(F f) {
    int used = used_.load(std::memory_order_acquire);
    for (int i = 0; i < used; ++i) f(slots_[i]);
  }

  // Every slot, used or not (to set up what a slot keeps for good).
  Slot* begin() { return slots_; }
  Slot* end() { return slots_ + N; }

 private:
  // Whether the socket of `s` is gone: closed, or its number reused.
  static bool stale(const Slot& s) {
    int fd = s.fd.load(std::memory_order_acquire);
    if (fd < 0) return false;
    const Conn* c = find_conn(fd);
    return !c || !is_socket(c->get_kind()) ||
           c->opened_ns.load(std::memory_order_relaxed) != s.opened.load(std::memory_order_relaxed);
  }

  Slot slots_[N];
  std::atomic<int> used_{0};
};

}  // namespace sd
