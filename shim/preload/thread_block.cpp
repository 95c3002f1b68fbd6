// The pool behind thread_block (see thread_block.h).
#include "thread_block.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "self_ids.h"

namespace sd {

__thread void* t_block __attribute__((tls_model("initial-exec"))) = nullptr;
__thread long t_block_owner __attribute__((tls_model("initial-exec"))) = 0;

namespace {

// More threads at once than this that each need a block do without one.
constexpr unsigned kSlots = 4096;

struct Slot {
  std::atomic<long> owner{0};  // the tid of the thread it belongs to; 0: never taken
  std::atomic<void*> mem{nullptr};
};
Slot g_slots[kSlots];

__thread unsigned t_slot __attribute__((tls_model("initial-exec"))) = 0;

// A thread that has ended (or, in a fork child, one of the parent's) is no
// thread of this process: tgkill says ESRCH. A tid reused by a new thread
// only keeps its old block taken a while longer.
bool thread_gone(long tid) {
  return syscall(SYS_tgkill, self_pid(), tid, 0) != 0 && errno == ESRCH;
}

void* take(unsigned i, long from, long me, std::size_t bytes, void (*make)(void*)) {
  Slot& s = g_slots[i];
  if (!s.owner.compare_exchange_strong(from, me, std::memory_order_acq_rel)) return nullptr;
  void* m = s.mem.load(std::memory_order_acquire);
  if (!m) {
    m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      s.owner.store(from, std::memory_order_release);
      return nullptr;
    }
    make(m);
    s.mem.store(m, std::memory_order_release);
  }
  t_block = m;
  t_block_owner = me;
  t_slot = i;
  return m;
}

}  // namespace

void* thread_block_taken(std::size_t bytes, void (*make)(void*), long me) {
  if (t_block) {
    // A fork child (its thread has a new tid): the block is taken over from
    // the forking thread, unless a thread of the child took it first.
    long parent = t_block_owner;
    if (g_slots[t_slot].owner.compare_exchange_strong(parent, me, std::memory_order_acq_rel)) {
      t_block_owner = me;
      return t_block;
    }
    t_block = nullptr;
  }
  int saved = errno;
  void* m = nullptr;
  // Slots never taken first (no system call), then those of ended threads.
  for (unsigned i = 0; i < kSlots && !m; ++i)
    if (g_slots[i].owner.load(std::memory_order_relaxed) == 0) m = take(i, 0, me, bytes, make);
  for (unsigned i = 0; i < kSlots && !m; ++i) {
    long owner = g_slots[i].owner.load(std::memory_order_relaxed);
    if (owner != 0 && owner != me && thread_gone(owner)) m = take(i, owner, me, bytes, make);
  }
  errno = saved;
  return m;
}

}  // namespace sd
