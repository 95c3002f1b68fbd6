// Cached pid and tid (see self_ids.h).
#include "self_ids.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace sd {
namespace {

struct WipedOnFork {
  std::atomic<long> pid;  // 0: not asked yet in this process
};
std::atomic<WipedOnFork*> g_page{nullptr};
std::atomic<bool> g_no_page{false};

__thread long t_tid __attribute__((tls_model("initial-exec"))) = 0;
__thread long t_tid_pid __attribute__((tls_model("initial-exec"))) = 0;

// The page, made by the first record (a process that records nothing pays
// nothing); nullptr when the kernel refuses it.
WipedOnFork* page() {
  WipedOnFork* p = g_page.load(std::memory_order_acquire);
  if (p || g_no_page.load(std::memory_order_relaxed)) return p;
  int saved = errno;
  long size = sysconf(_SC_PAGESIZE);
  void* m = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m != MAP_FAILED && madvise(m, static_cast<size_t>(size), MADV_WIPEONFORK) != 0) {
    munmap(m, static_cast<size_t>(size));
    m = MAP_FAILED;
  }
  errno = saved;
  if (m == MAP_FAILED) {
    g_no_page.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  // Two threads' first records: one page stays, the other goes.
  WipedOnFork* made = static_cast<WipedOnFork*>(m);
  if (!g_page.compare_exchange_strong(p, made, std::memory_order_acq_rel)) {
    munmap(m, static_cast<size_t>(size));
    return p;
  }
  return made;
}

}  // namespace

long self_pid() {
  WipedOnFork* p = page();
  if (!p) return syscall(SYS_getpid);
  long pid = p->pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = syscall(SYS_getpid);
    p->pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

long self_tid() {
  long pid = self_pid();
  if (t_tid == 0 || t_tid_pid != pid) {
    t_tid = syscall(SYS_gettid);
    t_tid_pid = pid;
  }
  return t_tid;
}

}  // namespace sd
