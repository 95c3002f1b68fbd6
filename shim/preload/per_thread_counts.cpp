// Per-thread counter blocks (see per_thread_counts.h). Claiming runs in
// hooks on any thread, possibly in a signal handler that interrupted a
// claim: atomics only, no allocation, no lock, no system call.
#include "per_thread_counts.h"

#include <pthread.h>

namespace sd {

__thread ctab::Lane* t_lane __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// The lanes this process holds, in use (1) or left by a thread that exited
// (2); 0: an entry not filled (yet, or its lane could not be had).
std::atomic<ctab::Lane*> g_held[kHeldLanes];
std::atomic<uint8_t> g_state[kHeldLanes];
std::atomic<uint32_t> g_held_count{0};
// Lanes handed back so far: a thread that found none left tries again only
// after one more was.
std::atomic<uint32_t> g_released{0};

ctab::Lane g_private[kHeldLanes];  // home 0: zero at load time, counted into before main too
std::atomic<uint32_t> g_private_count{0};

std::atomic<ctab::Lane* (*)(uint32_t)> g_take_shared{nullptr};

// glibc keeps the first 32 keys' values in the thread's descriptor: setting
// one is a store, safe in a signal handler; a later key's may allocate.
constexpr pthread_key_t kKeysInDescriptor = 32;
pthread_key_t g_key;
std::atomic<bool> g_key_ready{false};

__thread uint32_t t_held __attribute__((tls_model("initial-exec"))) = 0;  // t_lane's entry in g_held
// 1 + g_released when this thread last found no lane; 0: it never did.
__thread uint32_t t_none_at __attribute__((tls_model("initial-exec"))) = 0;

void thread_exit(void*) { lane_release(); }

ctab::Lane* new_lane(uint32_t home) {
  if (home != 0) {
    auto take = g_take_shared.load(std::memory_order_acquire);
    return take ? take(home) : nullptr;
  }
  uint32_t i = g_private_count.fetch_add(1, std::memory_order_relaxed);
  return i < kHeldLanes ? &g_private[i] : nullptr;
}

ctab::Lane* adopt(uint32_t i, ctab::Lane* l) {
  // A signal handler that interrupted this claim claimed one of its own:
  // this one goes back.
  if (t_lane) {
    g_state[i].store(2, std::memory_order_release);
    return t_lane;
  }
  t_held = i;
  t_lane = l;
  // Any non-null value: the destructor works from t_lane.
  if (g_key_ready.load(std::memory_order_acquire)) pthread_setspecific(g_key, &g_key);
  return l;
}

}  // namespace

void lanes_prepare() {
  if (g_key_ready.load(std::memory_order_relaxed) || pthread_key_create(&g_key, thread_exit) != 0) return;
  if (g_key >= kKeysInDescriptor) {
    pthread_key_delete(g_key);
    return;
  }
  g_key_ready.store(true, std::memory_order_release);
}

void lanes_take_shared_from(ctab::Lane* (*take)(uint32_t)) { g_take_shared.store(take, std::memory_order_release); }

ctab::Lane* lane_claim(uint32_t home) {
  if (t_none_at != 0 && t_none_at == g_released.load(std::memory_order_relaxed) + 1) return nullptr;
  uint32_t n = g_held_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n && i < kHeldLanes; ++i) {
    uint8_t st = g_state[i].load(std::memory_order_relaxed);
    if (st != 2) continue;
    ctab::Lane* l = g_held[i].load(std::memory_order_relaxed);
    if (l->slot.load(std::memory_order_relaxed) != home) continue;
    // Acquire: the counts of the thread that left it are before ours.
    if (g_state[i].compare_exchange_strong(st, 1, std::memory_order_acquire)) return adopt(i, l);
  }
  uint32_t released = g_released.load(std::memory_order_relaxed);
  uint32_t i = g_held_count.fetch_add(1, std::memory_order_acq_rel);
  ctab::Lane* l = i < kHeldLanes ? new_lane(home) : nullptr;
  if (!l) {
    t_none_at = released + 1;
    return nullptr;
  }
  g_held[i].store(l, std::memory_order_relaxed);
  g_state[i].store(1, std::memory_order_release);
  return adopt(i, l);
}

void lane_release() {
  ctab::Lane* l = t_lane;
  if (!l) return;
  t_lane = nullptr;
  uint32_t i = t_held;
  if (i >= kHeldLanes || g_held[i].load(std::memory_order_relaxed) != l) return;
  // Release: our counts are before those of the thread that takes it.
  g_state[i].store(2, std::memory_order_release);
  g_released.fetch_add(1, std::memory_order_relaxed);
}

const ctab::Lane* private_lanes(uint32_t* n) {
  uint32_t count = g_private_count.load(std::memory_order_acquire);
  *n = count < kHeldLanes ? count : kHeldLanes;
  return g_private;
}

void lanes_after_fork() {
  uint32_t privates = g_private_count.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < privates && i < kHeldLanes; ++i) ctab::clear(g_private[i]);
  g_private_count.store(0, std::memory_order_relaxed);
  uint32_t held = g_held_count.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < held && i < kHeldLanes; ++i) {
    g_held[i].store(nullptr, std::memory_order_relaxed);
    g_state[i].store(0, std::memory_order_relaxed);
  }
  g_held_count.store(0, std::memory_order_relaxed);
  g_released.store(0, std::memory_order_relaxed);
  t_lane = nullptr;
  t_none_at = 0;
}

}  // namespace sd
