// The log (see log.h). Hazards handled here:
// - records of threads and processes must never interleave: one write(2) per
//   record, on an O_APPEND file (or the inherited stderr);
// - programs that close every fd (daemons, close loops, close_range) would
//   close the log and give its number to a socket: the fd is moved high,
//   hidden from close, and checked (dev/inode) before each write;
// - `%p` in the path gives each process its own file, made by its first
//   record (after a fork too: the parent's file is not the child's);
// - the path is checked before main and opened safely (destination.h).
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <fmt/compile.h>

#include "destination.h"
#include "interpose.h"

namespace sd {
namespace {

std::atomic<int> g_fd{-1};
// Records being written right now: a dup2 onto the log fd waits for them,
// or a record could land in the file or socket the program puts there.
std::atomic<int> g_writers{0};
// The pid whose file g_fd is; -pid while a thread of that process opens it.
std::atomic<long> g_opened_pid{0};
std::atomic<dev_t> g_dev{0};
std::atomic<ino_t> g_ino{0};
bool g_to_stderr = true;
bool g_per_pid = false;
char g_path[sizeof(Config::log)];  // absolute; %p not yet expanded

// The number the log fd is moved to: high, so that it does not change the
// numbers the program's own fds get, but below the fd limit and small
// enough not to blow up the kernel's fd table (fork copies it).
int high_fd_floor() {
  rlimit rl{};
  rlim_t top = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top) top = rl.rlim_cur;
  return top > 16 ? static_cast<int>(top) - 16 : 3;
}

}  // namespace

// Moves `fd` to a high number with FD_CLOEXEC; closes the original.
int move_high(int fd) {
  int floor = high_fd_floor();
  int moved = real<Call::fcntl>()(fd, F_DUPFD_CLOEXEC, floor);
  if (moved < 0) moved = real<Call::fcntl>()(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return fd;
  real<Call::close>()(fd);
  return moved;
}

namespace {

void remember(int fd) {
  struct stat st {};
  if (fd >= 0 && fstat(fd, &st) == 0) {
    g_dev.store(st.st_dev, std::memory_order_relaxed);
    g_ino.store(st.st_ino, std::memory_order_relaxed);
  }
  g_fd.store(fd, std::memory_order_release);
  g_opened_pid.store(static_cast<long>(getpid()), std::memory_order_release);
}

void expand_path(char* out, std::size_t cap) {
  std::size_t o = 0;
  for (const char* p = g_path; *p && o + 1 < cap; ++p) {
    if (p[0] == '%' && p[1] == 'p') {
      auto r = fmt::format_to_n(out + o, cap - 1 - o, FMT_COMPILE("{}"), static_cast<long>(getpid()));
      o += r.size < cap - 1 - o ? r.size : cap - 1 - o;
      ++p;
    } else if (p[0] == '%' && p[1] == '%') {
      out[o++] = '%';
      ++p;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

int open_file() {
  char path[sizeof(g_path) + 32];
  expand_path(path, sizeof(path));
  Refusal why;
  int fd = open_destination(path, Destination::log, &why);
  return fd < 0 ? -1 : move_high(fd);
}

// A %p log: this process's file is opened by its first record (an exec'd
// program that records nothing leaves no empty file), and a forked child's
// is not its parent's. One thread opens it; the others wait for it, as
// their records belong in that file.
void reopen_if_forked() {
  if (!g_per_pid) return;
  long pid = static_cast<long>(getpid());
  long seen = g_opened_pid.load(std::memory_order_acquire);
  if (seen == pid) return;
  if (seen != -pid && g_opened_pid.compare_exchange_strong(seen, -pid, std::memory_order_acq_rel)) {
    // openat is a cancellation point: a thread cancelled half-way would
    // leave the others waiting for ever.
    int old_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state);
    int saved = errno;  // the look before the open fails with ENOENT for a new file
    int old = g_fd.exchange(-1);
    if (old >= 0) real<Call::close>()(old);
    remember(open_file());
    errno = saved;
    pthread_setcancelstate(old_state, nullptr);
    return;
  }
  while (g_opened_pid.load(std::memory_order_acquire) != pid) sched_yield();
}

// A relative path is made absolute at start: a forked child that changes
// directory before its first record still writes where the program started.
bool make_absolute(const char* value, const std::string& setting, std::string* error) {
  std::string why;
  if (value[0] == '/') {
    std::memcpy(g_path, value, sizeof(g_path));
    return true;
  }
  char cwd[sizeof(g_path)];
  if (!getcwd(cwd, sizeof(cwd))) {
    why = std::string("a relative path needs the current directory, which cannot be found (") + std::strerror(errno) +
          ")";
  } else {
    std::string joined = std::string(std::strcmp(cwd, "/") == 0 ? "" : cwd) + "/" + value;
    if (joined.size() < sizeof(g_path)) {
      std::memcpy(g_path, joined.c_str(), joined.size() + 1);
      return true;
    }
    why = "made absolute, the path is longer than " + std::to_string(sizeof(g_path) - 1) + " bytes";
  }
  *error = "sockdiag: " + setting + ": " + quote_value(value) + ": " + why + "; accepted: an absolute path";
  return false;
}

// Signal sets as the kernel takes them, one bit per signal. The raw
// rt_sigprocmask/rt_sigpending/rt_sigtimedwait calls do what pthread_sigmask,
// sigpending and sigtimedwait do for our two signals, without glibc's
// 1024-bit sigset_t and a helper call per bit: that cost more than the
// write itself, for every record.
using KernelSigset = uint64_t;
static_assert(_NSIG - 1 <= 64, "the kernel's signal set is taken to be 64 bits");

constexpr KernelSigset signal_bit(int sig) { return KernelSigset{1} << (sig - 1); }

KernelSigset block_signals(KernelSigset set) {
  KernelSigset old = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, sizeof(KernelSigset));
  return old;
}

void restore_signal_mask(KernelSigset mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, sizeof(KernelSigset));
}

KernelSigset pending_signals() {
  KernelSigset pending = 0;
  syscall(SYS_rt_sigpending, &pending, sizeof(KernelSigset));
  return pending;
}

// Takes the given signals off the pending set, without waiting.
void consume_signals(KernelSigset set) {
  const timespec zero{0, 0};
  syscall(SYS_rt_sigtimedwait, &set, nullptr, &zero, sizeof(KernelSigset));
}

bool still_ours(int fd) {
  // The program may have closed our fd behind the hooks (a raw syscall) and
  // reused the number: never write a record into its file or socket.
  struct stat st;  // filled by fstat when it succeeds; a record need not clear it
  return fstat(fd, &st) == 0 && st.st_dev == g_dev.load(std::memory_order_relaxed) &&
         st.st_ino == g_ino.load(std::memory_order_relaxed);
}

}  // namespace

bool log_open(const Config& cfg, std::string* error) {
  g_to_stderr = std::strcmp(cfg.log, "stderr") == 0;
  if (g_to_stderr) {
    // A dup shares stderr's open file description (and its offset): setting
    // O_APPEND on it would change the program's own stderr, so it stays as is.
    int fd = real<Call::fcntl>()(STDERR_FILENO, F_DUPFD_CLOEXEC, high_fd_floor());
    if (fd < 0) fd = real<Call::fcntl>()(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    remember(fd);
    return true;
  }
  const std::string setting = setting_name("SOCKDIAG_LOG", "log");
  if (!make_absolute(cfg.log, setting, error)) return false;
  g_per_pid = std::strstr(g_path, "%p") != nullptr;
  char path[sizeof(g_path) + 32];
  expand_path(path, sizeof(path));
  Refusal why;
  if (g_per_pid) {
    if (check_destination(path, Destination::log, &why)) return true;
  } else {
    int fd = open_destination(path, Destination::log, &why);
    if (fd >= 0) {
      remember(move_high(fd));
      return true;
    }
  }
  *error = "sockdiag: " + describe_refusal(setting, g_path, Destination::log, why);
  return false;
}

void write_record(int fd, const char* data, std::size_t len) {
  // A record is never a cancellation point of the program's thread: a
  // cancellation half-way would leave a cut line.
  int old_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state);
  int saved = errno;
  // A log into a pipe whose reader is gone (`prog 2>&1 | head`) raises
  // SIGPIPE, a log file past RLIMIT_FSIZE SIGXFSZ: either would kill the
  // program for a write of ours. Both are blocked for the write, and one we
  // raised is consumed; one the program already had pending is left alone.
  const KernelSigset ours = signal_bit(SIGPIPE) | signal_bit(SIGXFSZ);
  KernelSigset old_mask = block_signals(ours);
  KernelSigset already_pending = pending_signals() & ours;
  auto wr = real<Call::write>();
  while (len > 0) {
    ssize_t n = wr(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == EFBIG)) {
      KernelSigset raised = signal_bit(errno == EPIPE ? SIGPIPE : SIGXFSZ) & ~already_pending;
      if (raised) consume_signals(raised);
    }
    if (n <= 0) break;  // full disk, closed pipe: the program must not notice
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  restore_signal_mask(old_mask);
  errno = saved;
  pthread_setcancelstate(old_state, nullptr);
}

void log_write(const char* data, std::size_t len) {
  reopen_if_forked();
  // seq_cst pairs with log_evacuate: a writer either sees the new fd, or is
  // counted before the old one may be replaced.
  g_writers.fetch_add(1);
  int fd = g_fd.load();
  if (fd >= 0 && still_ours(fd)) write_record(fd, data, len);
  g_writers.fetch_sub(1);
}

bool is_log_fd(int fd) { return fd >= 0 && fd == g_fd.load(std::memory_order_relaxed); }

int log_fd() { return g_fd.load(std::memory_order_relaxed); }

void log_evacuate(int fd) {
  if (!is_log_fd(fd)) return;
  int moved = real<Call::fcntl>()(fd, F_DUPFD_CLOEXEC, fd + 1);
  if (moved < 0) moved = real<Call::fcntl>()(fd, F_DUPFD_CLOEXEC, 3);
  g_fd.store(moved);
  // Records already on their way to the old number finish there (it is
  // still the log) before the program's dup2 may replace it.
  while (g_writers.load() != 0) sched_yield();
}

}  // namespace sd
