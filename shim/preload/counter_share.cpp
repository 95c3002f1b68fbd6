// Attaching to the shared counter table (see counter_share.h). Done once
// before main, before the program can drop privileges or close the fd:
// afterwards the mapping serves every count, whoever the process runs as.
#include "counter_share.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "interpose.h"

namespace sd {

namespace {

ctab::Table* g_table = nullptr;  // set before main, never unmapped (hooks run until the very end)

}  // namespace

bool share_attach(int fd, const char** why) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    *why = "the counter table's fd was closed before the program was executed";
    return false;
  }
  // Only a sealed memfd: mapping a file or a device the program has since
  // opened at that number could have effects, and a table whose size cannot
  // change can never fault (SIGBUS) under a count.
  int seals = real<Call::fcntl>()(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK) || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != sizeof(ctab::Table)) {
    *why = "the counter table's fd number held something else when the program was executed";
    return false;
  }
  void* p = mmap(nullptr, sizeof(ctab::Table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *why = "the counter table could not be mapped";
    return false;
  }
  auto* t = static_cast<ctab::Table*>(p);
  if (const char* wrong = ctab::check(t, static_cast<uint64_t>(st.st_size))) {
    munmap(p, sizeof(ctab::Table));
    *why = wrong;
    return false;
  }
  g_table = t;
  return true;
}

bool share_attached() { return g_table != nullptr; }

ctab::Slot* share_take_slot() {
  if (!g_table) return nullptr;
  // Relaxed: the slot's memory is zero from the start (memfd) and ours alone.
  uint32_t i = g_table->header.next_slot.fetch_add(1, std::memory_order_relaxed);
  return i < ctab::kSlots ? &g_table->slots[i] : nullptr;
}

uint32_t share_lane_tag(const ctab::Slot* s) { return static_cast<uint32_t>(s - g_table->slots) + 1; }

ctab::Lane* share_take_lane(uint32_t tag) {
  uint32_t i = g_table->header.next_lane.fetch_add(1, std::memory_order_relaxed);
  if (i >= ctab::kLanes) return nullptr;
  // Release: a reader that sees the tag sees a lane of that slot.
  g_table->lanes[i].slot.store(tag, std::memory_order_release);
  return &g_table->lanes[i];
}

}  // namespace sd
