// The control file of a process (SOCKDIAG_CONTROL, `sockdiag ctl`): the
// layout shared by the library, which makes and maps the file, and the
// command, which writes rules into it. No thread and no signal: the library
// looks at one number (generation) on its hooks' way and takes in a change
// at the first call after `sockdiag ctl` published it.
//
// Files: DIR/PID.ctl, DIR = $XDG_RUNTIME_DIR/sockdiag (when that is an
// absolute path) or /tmp/sockdiag-UID; the directory is 0700 and owned by the
// user, the files 0600: only the same user (or root) can control a process.
//
// Writing (the command, serialized between commands by flock on the file):
// the image of the new rule set (rule_image.h) goes into the buffer that is
// not `active`, with its size and a new serial; then `active` names it, then
// `generation` is raised (release), then `pending` set. Pause and resume
// change `paused`, then raise `generation` and set `pending`. Reading (the library, malloc-free, any thread): see
// `generation`, copy the active buffer, and keep the copy only if
// `generation` did not move meanwhile (seqlock); the copy is checked whole
// before use (check_rule_image), since the file is memory another process
// writes.
//
// The run file DIR/RUN.run (RUN: the pid of a `sockdiag run`, made by that
// command, removed when it ends): the same layout, holding the rules a
// process of that run starts with. `sockdiag ctl --run` (or without target)
// writes a change there first, under an exclusive flock it keeps until
// every process is changed; a process of the run holds a shared flock on
// it from reading it at start-up (or copying its parent's rules after a
// fork) until its own file is published, so it either starts with the new
// set or is found and changed by ctl (it waits at most 200 ms for ctl's
// lock: a stopped ctl never stops the program). generation > 1: a change was made,
// and the run's set replaces SOCKDIAG_INJECT's at start-up.
#pragma once
#include <fcntl.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "injection_tally.h"
#include "rule_image.h"
#include "rules.h"

namespace sd::ctlfile {

constexpr uint32_t kMagic = 0x46434453;  // "SDCF" in memory
constexpr uint32_t kVersion = 3;  // 2: the injection tally; 3: the stall wakes
constexpr std::size_t kImageMax = 128 * 1024;  // bytes of one rule set's image (some 500 rules)
// Rule counters the file holds for ctl to read: each set taken in takes one
// per rule, never given back (a thread may still count into an old set).
constexpr uint32_t kCounterEntries = 4096;
// Rule sets one process takes in over its life (the start-up one included):
// each costs memory that is never freed (hooks in other threads may still
// use an old set), so their number is bounded; `sockdiag ctl` refuses a
// change beyond it.
constexpr uint32_t kMaxSets = 250;

struct Buffer {
  std::atomic<uint64_t> serial;  // which rule set (1, 2, ...): a pause keeps it
  std::atomic<uint64_t> size;    // bytes of the image
  alignas(64) char image[kImageMax];
};

struct Header {
  uint32_t magic;
  uint32_t version;
  uint64_t layout;       // kRuleImageLayout of the library's build
  int32_t pid;
  uint32_t uid;
  uint64_t start_time;   // /proc/PID/stat field 22: tells a reused pid apart
  uint64_t run_id;       // the `sockdiag run` this process belongs to (0: none)
  uint64_t seed;         // the process's seed for prob=, given to every set
  char prog[16];
  std::atomic<uint32_t> generation;  // raised by every change
  std::atomic<uint32_t> pending;     // set after every change; the library clears it (control.h)
  std::atomic<uint32_t> active;      // the buffer holding the rules in force (0 or 1)
  std::atomic<uint32_t> paused;      // 1: no rule acts (see tools/INJECT.md)
  std::atomic<uint32_t> applied;     // the generation the library took in last
  std::atomic<uint32_t> sets_taken;  // rule sets taken in (kMaxSets at most)
  std::atomic<uint32_t> counters_used;  // entries of `counters` handed out
  // Where the counters of the set in force are (an index into `counters`),
  // and for which serial: written by the library as it takes a set in.
  std::atomic<uint64_t> counted_serial;
  std::atomic<uint32_t> counters_at;
  std::atomic<uint32_t> counters_shared;  // 0: that set counts in private memory (the file was full)
};

// The calls blocked on a stalled connection (inject_stall.h), by the
// library's stall slot and direction (0 output, 1 input), and the
// semaphores they wait on. In the file, so that `sockdiag ctl` can wake
// them after a change: a stall whose rule is no longer in force ends, and
// its blocked calls go on (the library made them process-shared).
constexpr unsigned kStallWakes = 256;
struct StallWake {
  std::atomic<int> waiting[2];
  sem_t wake[2];
};

// Wakes every call blocked in direction `dir` of `w`: one post each; each
// looks again at why it waits. The count is bounded: `sockdiag ctl` reads
// it from a file another process writes, and must not spin on garbage.
constexpr int kMaxWaitersWoken = 65536;
inline void wake_waiters(StallWake& w, int dir) {
  int n = w.waiting[dir].load(std::memory_order_acquire);
  for (n = n < kMaxWaitersWoken ? n : kMaxWaitersWoken; n > 0; --n)
    if (sem_post(&w.wake[dir]) != 0) break;
}

struct File {
  Header header;
  Buffer buffers[2];
  RuleCounters counters[kCounterEntries];
  InjectionTally tally;  // by rule (its index in `counters`), call and peer
  StallWake stall_wakes[kStallWakes];
};

// After a change: every call blocked on a stall looks again (its stall may
// have ended with its rule).
inline void wake_stalled_calls(File& f) {
  // The change is seen before the counts are read; a call counts itself
  // in before it looks at the change (Dekker): one of the two sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (StallWake& w : f.stall_wakes)
    for (int dir = 0; dir < 2; ++dir) wake_waiters(w, dir);
}

// Is `f` (of `size` bytes) a control file of this build? nullptr when it is.
inline const char* check(const File* f, uint64_t size) {
  if (size != sizeof(File) || f->header.magic != kMagic) return "not a sockdiag control file";
  if (f->header.version != kVersion || f->header.layout != kRuleImageLayout)
    return "made by another sockdiag version";
  return nullptr;
}

// `n` in decimal at `out` (room for 11 characters); returns the end.
inline char* put_decimal(unsigned n, char* out) {
  char digits[12];
  int k = 0;
  do digits[k++] = static_cast<char>('0' + n % 10); while ((n /= 10) && k < 11);
  while (k) *out++ = digits[--k];
  *out = '\0';
  return out;
}

// The directory of a user's control files: $XDG_RUNTIME_DIR/sockdiag when
// `xdg` (its value) is an absolute path, else /tmp/sockdiag-UID. False when
// it does not fit `n` bytes. No allocation (the library calls it in a
// forked child).
inline bool dir_path(const char* xdg, unsigned uid, char* out, std::size_t n) {
  char number[12];
  put_decimal(uid, number);
  const char* parts[2] = {xdg, "/sockdiag"};
  if (!xdg || xdg[0] != '/') {
    parts[0] = "/tmp/sockdiag-";
    parts[1] = number;
  }
  std::size_t at = 0;
  for (const char* part : parts)
    for (const char* s = part; *s; ++s) {
      if (at + 1 >= n) {
        out[n ? n - 1 : 0] = '\0';
        return false;
      }
      out[at++] = *s;
    }
  out[at] = '\0';
  return true;
}

// The file name of process `pid` in that directory: "PID.ctl", or the run
// file of the run whose pid it is: "PID.run".
inline void file_name(int pid, char out[24], const char* suffix = ".ctl") {
  char* end = put_decimal(static_cast<unsigned>(pid), out);
  for (const char* s = suffix; *s; ++s) *end++ = *s;
  *end = '\0';
}

// Makes file `name` in the control directory `dir` (made 0700 if missing,
// used only when it is a directory of `uid` that nobody else can enter):
// new (a stale one of the same name is replaced), 0600, never through a
// symbolic link, sizeof(File) bytes. Its fd, or -1 with `why`. No
// allocation; `close_fd` closes (the library passes the real close).
inline int make_file(const char* dir, const char* name, unsigned uid, const char** why, int (*close_fd)(int)) {
  mkdir(dir, 0700);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    *why = "its directory cannot be opened";
    return -1;
  }
  struct stat st {};
  if (fstat(dfd, &st) != 0 || st.st_uid != uid || (st.st_mode & 077) != 0) {
    close_fd(dfd);
    *why = "its directory belongs to another user or others may enter it (it must be 0700)";
    return -1;
  }
  int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST && unlinkat(dfd, name, 0) == 0)
    fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  close_fd(dfd);
  if (fd < 0) {
    *why = "it cannot be created";
    return -1;
  }
  if (ftruncate(fd, sizeof(File)) != 0) {
    close_fd(fd);
    *why = "it cannot be sized";
    return -1;
  }
  return fd;
}

// The start time (field 22, clock ticks since boot) in the text of
// /proc/PID/stat: with the pid, it names one process among all that ever
// had that pid. 0 when the text is not such a line. No allocation.
inline uint64_t stat_start_time(const char* text) {
  // The name (field 2) may hold blanks and ')': fields count after the last ')'.
  const char* p = nullptr;
  for (const char* s = text; *s; ++s)
    if (*s == ')') p = s;
  if (!p) return 0;
  int field = 2;
  for (; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
  return v;
}

}  // namespace sd::ctlfile
