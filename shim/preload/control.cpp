// Live control, the library's side (see control.h and control_file.h).
#include "control.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <climits>
#include <cstring>
#include <string>

#include "config_state.h"
#include "control_file.h"
#include "inject.h"
#include "inject_readiness.h"
#include "inject_stall.h"
#include "progname.h"
#include "rule_image.h"
#include "rules_in_force.h"

namespace sd {

namespace {
std::atomic<uint32_t> g_never{0};  // never written: control is off
// The generation taken in last.
std::atomic<uint32_t> g_control_seen{0};
}  // namespace

std::atomic<uint32_t>* g_control_pending = &g_never;

namespace {

ctlfile::File* g_file = nullptr;  // never unmapped: old sets may count into it
char g_dir[4096];
char g_name[24];
int g_owner_pid = 0;

// What was taken in last (under g_lock): reused when only the pause changed.
uint64_t g_serial = 0;
const void* g_armed_serial = nullptr;

// The run file (control_file.h), locked shared from start-up (or a fork)
// until this process's own file is published; -1: none held.
int g_run_fd = -1;

std::atomic<int> g_lock{0};
__thread bool t_applying __attribute__((tls_model("initial-exec"))) = false;

// This process's start time (ctlfile::stat_start_time).
uint64_t start_time() {
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[1024];
  ssize_t n = real<Call::read>()(fd, text, sizeof(text) - 1);
  real<Call::close>()(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  return ctlfile::stat_start_time(text);
}

// Makes this process's file (ctlfile::make_file) and maps it. nullptr, with
// `why`, when it cannot be.
ctlfile::File* make_file(int pid, const char** why) {
  if (!ctlfile::dir_path(getenv("XDG_RUNTIME_DIR"), geteuid(), g_dir, sizeof(g_dir))) {
    *why = "the directory's path is too long";
    return nullptr;
  }
  ctlfile::file_name(pid, g_name);
  int fd = ctlfile::make_file(g_dir, g_name, geteuid(), why, real<Call::close>());
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, sizeof(ctlfile::File), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  real<Call::close>()(fd);
  if (p == MAP_FAILED) {
    *why = "it cannot be mapped";
    return nullptr;
  }
  auto* f = static_cast<ctlfile::File*>(p);
  ctlfile::Header& h = f->header;
  h.version = ctlfile::kVersion;
  h.layout = kRuleImageLayout;
  h.pid = pid;
  h.uid = geteuid();
  h.start_time = start_time();
  h.run_id = config().control_run;
  std::strncpy(h.prog, program_name(), sizeof(h.prog) - 1);
  g_owner_pid = pid;
  stall_wakes_in(f->stall_wakes);
  g_keep_registrations = true;
  return f;
}

// Opens and locks (shared) the file of this process's `sockdiag run`: a
// regular file of this user only, of the size of this build's. -1 when
// there is none (not under `sockdiag run`, or it could not make one).
int lock_run_file() {
  uint64_t run = config().control_run;
  if (run == 0 || run > INT_MAX) return -1;
  char name[24];
  ctlfile::file_name(static_cast<int>(run), name, ".run");
  int dir = open(g_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return -1;
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  real<Call::close>()(dir);
  if (fd < 0) return -1;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
      static_cast<uint64_t>(st.st_size) != sizeof(ctlfile::File)) {
    real<Call::close>()(fd);
    return -1;
  }
  // Bounded: ctl holds its exclusive lock only while it writes (a few ms),
  // but a ctl stopped (Ctrl-Z) or hung must never stop the program's start
  // or its fork. Past the bound the run's set is read unlocked: whole still
  // (seqlock), only a change made meanwhile may miss this process.
  for (int i = 0; i < 200 && flock(fd, LOCK_SH | LOCK_NB) != 0 && (errno == EWOULDBLOCK || errno == EINTR); ++i) {
    timespec ms{0, 1000000};
    nanosleep(&ms, nullptr);
  }
  return fd;
}

void unlock_run_file() {
  if (g_run_fd >= 0) real<Call::close>()(g_run_fd);
  g_run_fd = -1;
}

// `count` counters in the file for `serial`, or nullptr when it has no room left.
RuleCounters* take_counters(uint32_t count, uint64_t serial) {
  ctlfile::Header& h = g_file->header;
  uint32_t used = h.counters_used.load(std::memory_order_relaxed);
  bool shared = used + count <= ctlfile::kCounterEntries &&
                h.counters_used.compare_exchange_strong(used, used + count, std::memory_order_relaxed);
  h.counters_shared.store(shared ? 1 : 0, std::memory_order_relaxed);
  h.counters_at.store(shared ? used : 0, std::memory_order_relaxed);
  h.counted_serial.store(serial, std::memory_order_release);
  return shared ? &g_file->counters[used] : nullptr;
}

// `set` counts into the file at `counters` (take_counters'), and tallies
// there by call and peer.
void share(RuleSet& set, RuleCounters* counters) {
  set.counters = counters;
  set.tally = &g_file->tally;
  set.tally_base = static_cast<uint32_t>(counters - g_file->counters);
}

void* map_private(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void taken(uint32_t generation) {
  g_control_seen.store(generation, std::memory_order_release);
  g_file->header.applied.store(generation, std::memory_order_release);
}

// The new rule set, if any, copied out of the file and armed. A copy that a
// writer changed meanwhile is thrown away and made again (seqlock); a
// damaged one, or one past the bound of sets, leaves the rules as they were.
void apply_locked() {
  ctlfile::Header& h = g_file->header;
  // Cleared before the generation is read (a full barrier): a change
  // published after this sets it again, and the next call takes it in.
  h.pending.exchange(0, std::memory_order_acq_rel);
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint32_t gen = h.generation.load(std::memory_order_acquire);
    if (gen == g_control_seen.load(std::memory_order_relaxed)) return;
    const ctlfile::Buffer& b = g_file->buffers[h.active.load(std::memory_order_acquire) & 1];
    uint64_t serial = b.serial.load(std::memory_order_acquire);
    if (h.paused.load(std::memory_order_acquire)) {
      arm_rules(nullptr, nullptr, 0);
      return taken(gen);
    }
    if (serial == g_serial && g_armed_serial) {
      rearm(g_armed_serial);
      return taken(gen);
    }
    uint64_t size = b.size.load(std::memory_order_acquire);
    if (size < sizeof(RuleSet) || size > ctlfile::kImageMax) return taken(gen);
    void* mem = map_private(size);
    if (!mem) return h.pending.store(1, std::memory_order_relaxed);  // tried again at the next call
    std::memcpy(mem, b.image, size);
    if (h.generation.load(std::memory_order_acquire) != gen) {
      munmap(mem, size);
      continue;
    }
    if (check_rule_image(mem, size)) {
      munmap(mem, size);
      return taken(gen);
    }
    uint32_t count = static_cast<const RuleSet*>(mem)->count;
    RuleCounters* counters = take_counters(count, serial);
    std::size_t own = counters ? 0 : std::size_t{count ? count : 1} * sizeof(RuleCounters);
    RuleSet* set = relocate_rule_image(mem, size, nullptr);
    std::size_t room = arm_room(*set);
    auto* extra = static_cast<char*>(map_private(own + room));
    if (!extra) {
      munmap(mem, size);
      return h.pending.store(1, std::memory_order_relaxed);
    }
    if (counters)
      share(*set, counters);
    else
      set->counters = reinterpret_cast<RuleCounters*>(extra);
    set->seed = h.seed;
    const void* armed = arm_rules(set, extra + own, room);
    if (!armed) return taken(gen);  // past the bound: kept mapped, never used
    g_serial = serial;
    g_armed_serial = armed;
    h.sets_taken.fetch_add(1, std::memory_order_relaxed);
    return taken(gen);
  }
  h.pending.store(1, std::memory_order_relaxed);  // a writer kept changing it: next call
}

}  // namespace

bool control_enabled() { return g_file != nullptr; }

void control_apply() {
  if (!g_file || t_applying) return;
  t_applying = true;
  // Another thread taking the change in finishes soon (no system call but
  // mmap): the call waits for it, so that it runs under the new rules.
  while (g_lock.exchange(1, std::memory_order_acquire)) __builtin_ia32_pause();
  apply_locked();
  g_lock.store(0, std::memory_order_release);
  t_applying = false;
}

void control_start() {
  if (!config().control || g_passive) return;
  const char* why = "";
  g_file = make_file(static_cast<int>(getpid()), &why);
  if (g_file) g_run_fd = lock_run_file();
  if (!g_file && config().control_run == 0)
    say(std::string("sockdiag: SOCKDIAG_CONTROL: the control file in ") + g_dir + " could not be made (" + why +
        "): `sockdiag ctl` cannot reach this process\n");
}

void control_counters(RuleSet& set) {
  if (!g_file) return;
  if (RuleCounters* shared = take_counters(set.count, 1)) share(set, shared);
}

namespace {

// Once `sockdiag ctl` changed the run's rules (or paused it), a process of
// the run starts with the run's set, not SOCKDIAG_INJECT's: it goes into
// the file as a change, taken in at once.
void take_run_rules() {
  void* m = mmap(nullptr, sizeof(ctlfile::File), PROT_READ, MAP_SHARED, g_run_fd, 0);
  if (m == MAP_FAILED) return;
  const auto* run = static_cast<const ctlfile::File*>(m);
  const ctlfile::Header& rh = run->header;
  if (!ctlfile::check(run, sizeof(ctlfile::File)) && rh.generation.load(std::memory_order_acquire) > 1) {
    const ctlfile::Buffer& from = run->buffers[rh.active.load(std::memory_order_acquire) & 1];
    uint64_t size = from.size.load(std::memory_order_acquire);
    if (size > ctlfile::kImageMax) size = 0;
    ctlfile::Header& h = g_file->header;
    std::memcpy(g_file->buffers[1].image, from.image, size);
    g_file->buffers[1].size.store(size, std::memory_order_relaxed);
    g_file->buffers[1].serial.store(2, std::memory_order_relaxed);
    h.active.store(1, std::memory_order_relaxed);
    h.paused.store(rh.paused.load(std::memory_order_acquire), std::memory_order_relaxed);
    h.generation.store(2, std::memory_order_release);
    apply_locked();
  }
  munmap(m, sizeof(ctlfile::File));
}

}  // namespace

void control_publish_start() {
  if (!g_file) return;
  ctlfile::Header& h = g_file->header;
  const RuleSet* set = g_rules.load(std::memory_order_acquire);
  // A process without start-up rules still draws from the run's seed.
  h.seed = set ? set->seed
               : process_seed(config().seed_set ? config().seed : seed_from_clock(), program_name());
  RuleSet empty;
  std::string image = rule_image(set ? *set : empty);
  if (image.size() <= ctlfile::kImageMax) {
    std::memcpy(g_file->buffers[0].image, image.data(), image.size());
    g_file->buffers[0].size.store(image.size(), std::memory_order_relaxed);
  }
  g_file->buffers[0].serial.store(1, std::memory_order_relaxed);
  if (!set) take_counters(0, 1);
  g_serial = 1;
  g_armed_serial = armed_now();
  h.applied.store(1, std::memory_order_relaxed);
  h.generation.store(1, std::memory_order_relaxed);
  g_control_seen.store(1, std::memory_order_relaxed);
  if (g_run_fd >= 0) take_run_rules();
  // Last: `sockdiag ctl` takes a file whose magic is set for a whole one.
  __atomic_store_n(&h.magic, ctlfile::kMagic, __ATOMIC_RELEASE);
  g_control_pending = &h.pending;
  unlock_run_file();
}

void control_after_fork() {
  if (!g_file) return;
  ctlfile::File* parent = g_file;
  g_file = nullptr;
  // The parent's blocked calls wait on its file's wakes: the child's, if
  // any, on its own (make_file).
  stall_wakes_in(nullptr);
  const RuleSet* in_force = g_rules.load(std::memory_order_acquire);
  bool startup_in_force = in_force && in_force == summary_rules();
  // Until its own copy is armed below, the child counts nothing by rule:
  // the start-up set's counters are the parent's.
  g_summary_rules.store(nullptr, std::memory_order_release);
  g_control_pending = &g_never;
  g_control_seen.store(0, std::memory_order_relaxed);
  g_lock.store(0, std::memory_order_relaxed);
  t_applying = false;
  if (g_passive) return;
  // Locked before the parent's rules are copied: a change to the run is
  // either in them or made to this file too (control_file.h).
  g_run_fd = lock_run_file();
  const char* why = "";
  ctlfile::File* f = make_file(static_cast<int>(getpid()), &why);
  if (!f) return unlock_run_file();
  // The parent's rules in force (or about to be), copied; taken in below
  // as a new set, counting from zero into the child's own file.
  const ctlfile::Buffer& from = parent->buffers[parent->header.active.load(std::memory_order_acquire) & 1];
  uint64_t size = from.size.load(std::memory_order_acquire);
  if (size > ctlfile::kImageMax) size = 0;
  std::memcpy(f->buffers[0].image, from.image, size);
  f->buffers[0].size.store(size, std::memory_order_relaxed);
  f->buffers[0].serial.store(1, std::memory_order_relaxed);
  f->header.seed = parent->header.seed;
  // The sets the parent armed stay in the child's memory and count against its bound.
  f->header.sets_taken.store(parent->header.sets_taken.load(std::memory_order_relaxed), std::memory_order_relaxed);
  f->header.paused.store(parent->header.paused.load(std::memory_order_relaxed), std::memory_order_relaxed);
  f->header.generation.store(1, std::memory_order_relaxed);
  g_file = f;
  g_serial = 0;
  g_armed_serial = nullptr;
  apply_locked();
  if (startup_in_force) g_summary_rules.store(g_rules.load(std::memory_order_acquire), std::memory_order_release);
  __atomic_store_n(&f->header.magic, ctlfile::kMagic, __ATOMIC_RELEASE);
  g_control_pending = &f->header.pending;
  unlock_run_file();
}

void control_stop() {
  if (!g_file || g_owner_pid != static_cast<int>(getpid())) return;
  int dir = open(g_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  unlinkat(dir, g_name, 0);
  real<Call::close>()(dir);
}

}  // namespace sd
