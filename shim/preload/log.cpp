// The log (see log.h). Hazards handled here:
// - records of threads and processes never interleave and are never cut:
//   one write per record on an O_APPEND file; a record is at most PIPE_BUF
//   bytes, which a pipe takes whole or not at all; the part of a record that
//   a full disk or RLIMIT_FSIZE cut short is cut back off the file;
// - a log reader that stops reading never stops the program: every write is
//   non-blocking and waits at most kWaitMs for room; what is dropped is
//   counted, said in the log when it takes records again, and in the summary;
// - the stderr log keeps no copy of stderr (a copy kept a daemon's caller
//   waiting on its pipe, and an inetd service's client socket open): it
//   writes to fd 2 while fd 2 is what it was, follows dup2 onto fd 2, stops
//   when fd 2 is closed, and never writes into an inet socket;
// - a write's SIGPIPE or SIGXFSZ is taken back exactly: the program receives
//   the signals it would receive without the library;
// - programs that close every fd: the log file's fd sits at the top of the
//   fd limit (never a number the program would get), is hidden from close,
//   fcntl and dup;
// - a record's only system call is its write: what the log's fd is, is
//   known from the hooks that change fds (close, dup2, close_range, and
//   libc's own fclose, freopen, daemon, login_tty), not asked per record; a
//   file's size only under a finite RLIMIT_FSIZE, itself read again only
//   after setrlimit/prlimit (another process's prlimit on this one is not
//   seen: a record that then crosses the new limit is refused by the
//   kernel with SIGXFSZ, which the write does not block);
// - `%p` in the path gives each process its own file, made by its first
//   record (after a fork too: the parent's file is not the child's);
// - the path is checked before main and opened safely (destination.h).
#include "log.h"
#include "self_ids.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/compile.h>

#include "destination.h"
#include "escape.h"
#include "interpose.h"
#include "progname.h"
#include "record.h"
#include "summary.h"

namespace sd {
namespace {

static_assert(LineBuffer::kCapacity <= PIPE_BUF, "a record must fit one atomic pipe write");

// How long one record may wait for room in the log.
constexpr int kWaitMs = 5;
// The log fd is placed no higher than this even when the fd limit is
// higher: the kernel's fd table grows to the highest fd, and fork copies it.
constexpr rlim_t kHighestLogFd = 4096;
// Taken numbers passed over from the top before the log goes without an fd.
constexpr int kMaxPlacementTries = 1024;

// What the log's fd is, which says how a record is written to it.
enum class Dest : uint8_t {
  none,
  append_file,  // a regular file opened O_APPEND (the log file)
  shared_file,  // a regular file at the program's offset (stderr: `2>file`)
  pipe,         // pipe or FIFO: pwritev2(RWF_NOWAIT), EPIPE raises SIGPIPE
  unix_socket,  // send(MSG_DONTWAIT | MSG_NOSIGNAL)
  device,       // terminal or other character device: poll, then write
  tostop_tty,   // a terminal with TOSTOP: a background writer would get SIGTTOU
  collector,    // unix:PATH: our datagram socket, sendto(PATH) per record
};

// The log as one word, so that a writer reads it at once: the fd, what it
// is, and whether the fd is the library's own (a log file) or the
// program's fd 2 (the stderr log).
struct Sink {
  int fd;
  Dest dest;
  bool own;
};
constexpr uint64_t pack(Sink s) {
  return uint64_t{static_cast<uint32_t>(s.fd)} | uint64_t{static_cast<uint8_t>(s.dest)} << 32 |
         uint64_t{s.own} << 40;
}
constexpr Sink unpack(uint64_t w) {
  return {static_cast<int>(static_cast<uint32_t>(w)), static_cast<Dest>((w >> 32) & 0xff), ((w >> 40) & 1) != 0};
}
constexpr Sink kNoSink{-1, Dest::none, false};

std::atomic<uint64_t> g_sink{pack(kNoSink)};
// The file the sink's fd must still refer to: the program may close or
// replace it behind the hooks (raw system calls, libc's own daemon()).
std::atomic<dev_t> g_dev{0};
std::atomic<ino_t> g_ino{0};
// Records being written right now: the log is changed (fd 2 closed or
// replaced, the log fd moved) only when none is on its way to the old one.
std::atomic<int> g_writers{0};
// This thread's own writes among them: a signal handler that closes fd 2
// while its thread is writing must not wait for itself.
__thread int t_writing __attribute__((tls_model("initial-exec"))) = 0;
// log_evacuate let go of fd 2 for this thread's dup2/dup3 onto it.
__thread bool t_replacing_stderr __attribute__((tls_model("initial-exec"))) = false;
std::atomic_flag g_changing = ATOMIC_FLAG_INIT;
// A record waited kWaitMs in vain: the next ones do not wait until one
// gets through, so that a stalled reader costs one wait, not one per record.
std::atomic<bool> g_stalled{false};
// The kernel refused RWF_NOWAIT on a pipe (before Linux 5.8): poll, then write.
std::atomic<bool> g_no_nowait{false};
std::atomic<uint64_t> g_unsaid{0};  // dropped since the log last said so
// RLIMIT_FSIZE, read by the first write to a file after start or after the
// program changed it: g_fsize_changes counts the changes, and the limit read
// is good while g_fsize_read_at is that count plus one (a change during a
// read leaves the read stale, and the next write reads again).
std::atomic<uint32_t> g_fsize_changes{0};
std::atomic<uint32_t> g_fsize_read_at{0};
std::atomic<rlim_t> g_fsize_limit{RLIM_INFINITY};
// The pid whose file the log is; -pid while a thread of that process opens it.
std::atomic<long> g_opened_pid{0};
bool g_to_stderr = false;  // set by log_open: without a log, fd 2 is not followed
bool g_per_pid = false;
Format g_format = Format::text;
char g_path[sizeof(Config::log)];  // absolute; %p not yet expanded
// unix:PATH (`sockdiag collect`): each record is sent to the path afresh, so
// that a collector restarted (a new socket at the path) gets the next one;
// while none listens, records are dropped and counted, never waited for.
sockaddr_un g_collector{};
socklen_t g_collector_len = 0;

// ---- fd placement -------------------------------------------------------------

rlim_t fd_top() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  return rl.rlim_cur < kHighestLogFd ? rl.rlim_cur : kHighestLogFd;
}

// A copy of `fd` (which the caller gives up) at the highest free number
// below the fd limit, or -1.
// The program gets the lowest free numbers: it gets the same ones as
// without the library, and only its last one at the limit is taken. Never
// the lowest free number itself (the program's next): then none.
int dup_high(int fd) {
  auto fcntl_ = real<Call::fcntl>();
  rlim_t top = fd_top();
  if (top <= 3) return -1;
  int highest = static_cast<int>(top) - 1;
  int lowest = highest > kMaxPlacementTries + 3 ? highest - kMaxPlacementTries : 3;
  for (int n = highest; n >= lowest; --n) {
    // The lowest free number >= n: n itself (or, below a limit above
    // kHighestLogFd, one higher), or EMFILE/EINVAL when every number from n
    // to the limit is taken.
    int moved = fcntl_(fd, F_DUPFD_CLOEXEC, n);
    if (moved < 0 && errno != EMFILE && errno != EINVAL) return -1;
    if (moved < 0) continue;
    // Is a lower number left for the program? `fd` itself is given up by
    // every caller; otherwise a probe, closed at once, says.
    if (fd < moved) return moved;
    int probe = fcntl_(fd, F_DUPFD_CLOEXEC, 0);
    if (probe >= 0) real<Call::close>()(probe);
    if (probe >= 0 && probe < moved) return moved;
    real<Call::close>()(moved);
    return -1;
  }
  return -1;
}

// Says once, on stderr when it is a destination at all, that the log runs
// without an fd.
void say_no_fd();

// `fd` moved high (the original closed); -1 (and `fd` closed) when no high
// number is free: the log then has no fd rather than a low one.
int place_high(int fd) {
  if (fd < 0) return -1;
  int moved = dup_high(fd);
  real<Call::close>()(fd);
  if (moved < 0) say_no_fd();
  return moved;
}

// ---- signals --------------------------------------------------------------------

// Signal sets as the kernel takes them, one bit per signal: the raw calls
// do what pthread_sigmask, sigpending and sigtimedwait do for one signal,
// without glibc's 1024-bit sigset_t.
using KernelSigset = uint64_t;
static_assert(_NSIG - 1 <= 64, "the kernel's signal set is taken to be 64 bits");

constexpr KernelSigset signal_bit(int sig) { return KernelSigset{1} << (sig - 1); }

// Whether `sig` is pending for this thread alone (SigPnd of
// /proc/thread-self/status: the private queue, without the process's shared
// one that rt_sigpending adds). -1 when it cannot be read.
int thread_private_pending(int sig) {
  int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  ssize_t n = real<Call::read>()(fd, buf, sizeof(buf) - 1);
  real<Call::close>()(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nSigPnd:");
  if (!line) return -1;
  unsigned long long set = std::strtoull(line + 8, nullptr, 16);
  return (set & signal_bit(sig)) != 0;
}

// A write that may raise `sig` at this thread (EPIPE raises SIGPIPE, EFBIG
// SIGXFSZ; both thread-directed, into the thread's private queue, where a
// standard signal is queued at most once). The signal is blocked for the
// write, so that its default action cannot kill the program; one the write
// raised is taken back (sigtimedwait takes the private queue first) unless
// the private queue already held one, into which ours merged. A signal sent
// by kill() meanwhile waits in the shared queue and stays the program's.
class SignalGuard {
 public:
  explicit SignalGuard(int sig) : sig_(signal_bit(sig)) {
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &sig_, &old_mask_, sizeof(KernelSigset));
    KernelSigset pending = 0;
    syscall(SYS_rt_sigpending, &pending, sizeof(KernelSigset));
    // Pending: in this thread's queue, or only in the process's (kill())?
    private_before_ = (pending & sig_) ? thread_private_pending(sig) : 0;
  }
  ~SignalGuard() { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_mask_, nullptr, sizeof(KernelSigset)); }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

  // Unknown whether a raised signal would be ours: then nothing is written.
  bool usable() const { return private_before_ >= 0; }
  // The write failed with the error that raises the signal.
  void raised() {
    if (private_before_ != 0) return;
    const timespec zero{0, 0};
    syscall(SYS_rt_sigtimedwait, &sig_, nullptr, &zero, sizeof(KernelSigset));
  }

 private:
  KernelSigset sig_;
  KernelSigset old_mask_ = 0;
  int private_before_;
};

// ---- writing one record -----------------------------------------------------------

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits until `fd` takes bytes, kWaitMs at most for the whole record
// (`deadline` is set on the first wait). Once a record waited in vain, the
// next ones only look, until one gets through: a stalled reader costs one
// wait, not one per record.
bool wait_writable(int fd, int64_t* deadline) {
  bool stalled = g_stalled.load(std::memory_order_relaxed);
  int64_t now = now_ms();
  if (*deadline == 0) *deadline = stalled ? now : now + kWaitMs;
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    int left = static_cast<int>(*deadline - now);
    int r = real<Call::poll>()(&p, 1, left > 0 ? left : 0);
    if (r > 0 && (p.revents & POLLOUT)) return true;
    if (r > 0 || (r < 0 && errno != EINTR)) return false;  // error, hang-up
    now = now_ms();
    if (r == 0 || now >= *deadline) break;
  }
  g_stalled.store(true, std::memory_order_relaxed);
  return false;
}

// The part of a record a write cut short (full disk, RLIMIT_FSIZE) is cut
// back off the file, so that the next record does not glue onto it. Not when
// another writer appended after it meanwhile: that line stays broken.
void cut_back(int fd, std::size_t written, bool append) {
  off_t end = lseek(fd, 0, SEEK_CUR);
  struct stat st;
  if (end < static_cast<off_t>(written) || fstat(fd, &st) != 0 || st.st_size != end) return;
  off_t start = end - static_cast<off_t>(written);
  if (ftruncate(fd, start) == 0 && !append) lseek(fd, start, SEEK_SET);
}

rlim_t fsize_limit() {
  uint32_t changes = g_fsize_changes.load(std::memory_order_acquire);
  if (g_fsize_read_at.load(std::memory_order_acquire) == changes + 1) return g_fsize_limit.load(std::memory_order_relaxed);
  rlimit rl{};
  rl.rlim_cur = getrlimit(RLIMIT_FSIZE, &rl) == 0 ? rl.rlim_cur : 0;  // unknown: guarded as the tightest
  g_fsize_limit.store(rl.rlim_cur, std::memory_order_relaxed);
  g_fsize_read_at.store(changes + 1, std::memory_order_release);
  return rl.rlim_cur;
}

bool put_file(int fd, bool append, const char* data, std::size_t len) {
  rlim_t limit = fsize_limit();
  bool limited = limit != RLIM_INFINITY;
  if (limited) {
    // Past the limit the kernel writes the part below it, or refuses with
    // SIGXFSZ: a record that would not fit whole is not written.
    struct stat st;
    off_t at = append ? (fstat(fd, &st) == 0 ? st.st_size : -1) : lseek(fd, 0, SEEK_CUR);
    if (at < 0 || static_cast<rlim_t>(at) + len > limit) return false;
  }
  // Another writer may still take the room left: SIGXFSZ stays possible.
  std::optional<SignalGuard> guard;
  if (limited) guard.emplace(SIGXFSZ);
  bool whole = false;
  if (!guard || guard->usable()) {
    ssize_t n;
    do n = real<Call::write>()(fd, data, len);
    while (n < 0 && errno == EINTR);
    whole = n == static_cast<ssize_t>(len);
    if (n < 0 && errno == EFBIG && guard) guard->raised();
    if (n > 0 && !whole) cut_back(fd, static_cast<std::size_t>(n), append);
  }
  return whole;
}

// One pipe write: whole (len <= PIPE_BUF) or EAGAIN, never blocking.
ssize_t pipe_write(int fd, const char* data, std::size_t len) {
  if (!g_no_nowait.load(std::memory_order_relaxed)) {
    iovec v{const_cast<char*>(data), len};
    ssize_t n = pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
    if (n >= 0 || errno != EOPNOTSUPP) return n;
    g_no_nowait.store(true, std::memory_order_relaxed);
  }
  // An older kernel: the room polled for is taken whole unless another
  // writer fills the pipe in between.
  pollfd p{fd, POLLOUT, 0};
  if (real<Call::poll>()(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
    // No reader (POLLERR): not EPIPE, which would take a SIGPIPE back that
    // no write raised.
    errno = (p.revents & POLLERR) ? EIO : EAGAIN;
    return -1;
  }
  return real<Call::write>()(fd, data, len);
}

bool put_pipe(int fd, const char* data, std::size_t len) {
  SignalGuard guard(SIGPIPE);
  if (!guard.usable()) return false;
  int64_t deadline = 0;
  for (;;) {
    ssize_t n = pipe_write(fd, data, len);
    if (n == static_cast<ssize_t>(len)) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) guard.raised();
    if (n >= 0 || errno != EAGAIN || !wait_writable(fd, &deadline)) return false;
  }
}

// A socket, a terminal or another device: what was written of a record
// (a stream socket or a terminal may take part of it) is completed within
// the same bound.
bool put_stream(Dest dest, int fd, const char* data, std::size_t len) {
  int64_t deadline = 0;
  while (len > 0) {
    ssize_t n;
    if (dest == Dest::unix_socket) {
      n = real<Call::send>()(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else if (wait_writable(fd, &deadline)) {
      n = real<Call::write>()(fd, data, len);
    } else {
      return false;
    }
    if (n > 0) {
      data += n;
      len -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN || dest != Dest::unix_socket || !wait_writable(fd, &deadline)) return false;
  }
  return true;
}

// One whole line to the sink, or false. errno and the thread's
// cancellation state are the program's again after.
bool put(Sink s, const char* data, std::size_t len) {
  int old_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state);  // a cancellation half-way would cut the line
  int saved = errno;
  bool whole = false;
  switch (s.dest) {
    case Dest::none: break;
    case Dest::append_file:
    case Dest::shared_file: whole = put_file(s.fd, s.dest == Dest::append_file, data, len); break;
    case Dest::pipe: whole = put_pipe(s.fd, data, len); break;
    case Dest::unix_socket:
    case Dest::device: whole = put_stream(s.dest, s.fd, data, len); break;
    case Dest::collector:
      whole = real<Call::sendto>()(s.fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                                   reinterpret_cast<const sockaddr*>(&g_collector),
                                   g_collector_len) == static_cast<ssize_t>(len);
      break;
    case Dest::tostop_tty: {
      // Blocked, SIGTTOU is not sent: the kernel lets the write through
      // rather than stop the program's whole process group for our record.
      KernelSigset ttou = signal_bit(SIGTTOU), old_mask = 0;
      syscall(SYS_rt_sigprocmask, SIG_BLOCK, &ttou, &old_mask, sizeof(KernelSigset));
      whole = put_stream(Dest::device, s.fd, data, len);
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_mask, nullptr, sizeof(KernelSigset));
      break;
    }
  }
  if (whole) g_stalled.store(false, std::memory_order_relaxed);
  errno = saved;
  pthread_setcancelstate(old_state, nullptr);
  return whole;
}

void count_dropped() {
  count_dropped_record();
  g_unsaid.fetch_add(1, std::memory_order_relaxed);
}

// What `fd` is as a log destination; Dest::none for what never takes a
// record: /dev/null (nothing to write), an inet socket (the client of an
// inetd-style service would read records in its stream), a directory...
Dest classify(int fd, const struct stat& st) {
  if (S_ISREG(st.st_mode)) {
    int flags = real<Call::fcntl>()(fd, F_GETFL, 0);
    return flags >= 0 && (flags & O_APPEND) ? Dest::append_file : Dest::shared_file;
  }
  if (S_ISFIFO(st.st_mode)) return Dest::pipe;
  if (S_ISSOCK(st.st_mode)) {
    int domain = 0;
    socklen_t len = sizeof(domain);
    bool unix_domain = real<Call::getsockopt>()(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
    if (!unix_domain) return Dest::none;
    // With unix:PATH the log is our own unconnected datagram socket.
    int type = 0;
    len = sizeof(type);
    bool dgram = real<Call::getsockopt>()(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
    return g_collector_len && dgram ? Dest::collector : Dest::unix_socket;
  }
  if (S_ISCHR(st.st_mode)) {
    if (st.st_rdev == makedev(1, 3)) return Dest::none;  // /dev/null
    // TOSTOP as it is when the log is opened (`stty tostop` later is not seen).
    termios t;
    return ioctl(fd, TCGETS, &t) == 0 && (t.c_lflag & TOSTOP) ? Dest::tostop_tty : Dest::device;
  }
  return Dest::none;
}

// ---- changing the log ---------------------------------------------------------------

class WriterScope {
 public:
  WriterScope() {
    ++t_writing;
    g_writers.fetch_add(1);  // seq_cst, paired with publish()
  }
  ~WriterScope() {
    g_writers.fetch_sub(1);
    --t_writing;
  }
  WriterScope(const WriterScope&) = delete;
  WriterScope& operator=(const WriterScope&) = delete;
};

// Makes `s` the log (refer to the file dev/ino): no writer is still on its
// way to the old one when this returns (bounded: a write waits kWaitMs at
// most). Returns the old sink.
Sink publish(Sink s, dev_t dev, ino_t ino) {
  while (g_changing.test_and_set(std::memory_order_acquire)) sched_yield();
  Sink old;
  if (s.dest != Dest::none && dev == g_dev.load(std::memory_order_relaxed) &&
      ino == g_ino.load(std::memory_order_relaxed)) {
    // The same file under another number (the log fd moved): writers go on
    // to the new number at once, no record is lost.
    old = unpack(g_sink.exchange(pack(s)));
    while (g_writers.load() > t_writing) sched_yield();
  } else {
    // Another file, or none: records in between go nowhere, as they would
    // with the old stderr closed.
    old = unpack(g_sink.exchange(pack(kNoSink)));
    while (g_writers.load() > t_writing) sched_yield();
    g_dev.store(dev, std::memory_order_relaxed);
    g_ino.store(ino, std::memory_order_relaxed);
    g_sink.store(pack(s));
  }
  g_changing.clear(std::memory_order_release);
  return old;
}

// The log becomes `fd` (already placed; -1 for none), which the library
// owns (a log file) or not (fd 2); the old own fd is closed.
void adopt(int fd, bool own) {
  struct stat st {};
  Sink s = kNoSink;
  if (fd >= 0 && fstat(fd, &st) == 0) s = {fd, classify(fd, st), own};
  if (s.dest == Dest::none) {
    if (own && fd >= 0) real<Call::close>()(fd);
    s = kNoSink;
  }
  if (s.own && s.dest == Dest::pipe) {
    // The library's own open file description of a FIFO: non-blocking is
    // then its own business (RWF_NOWAIT needs no flag; an older kernel does).
    int flags = real<Call::fcntl>()(fd, F_GETFL, 0);
    if (flags >= 0) real<Call::fcntl>()(fd, F_SETFL, flags | O_NONBLOCK);
  }
  Sink old = publish(s, st.st_dev, st.st_ino);
  if (old.own && old.fd >= 0 && old.fd != s.fd) real<Call::close>()(old.fd);
  if (g_per_pid) g_opened_pid.store(self_pid(), std::memory_order_release);  // only a %p log asks
}

void adopt_stderr() { adopt(STDERR_FILENO, false); }

void expand_path(char* out, std::size_t cap) {
  std::size_t o = 0;
  for (const char* p = g_path; *p && o + 1 < cap; ++p) {
    if (p[0] == '%' && p[1] == 'p') {
      auto r = fmt::format_to_n(out + o, cap - 1 - o, FMT_COMPILE("{}"), self_pid());
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
  return open_destination(path, Destination::log, &why);
}

// A %p log: this process's file is opened by its first record (an exec'd
// program that records nothing leaves no empty file), and a forked child's
// is not its parent's. One thread opens it; the others wait for it, as
// their records belong in that file. False when the file could not be
// opened (a process out of fds meets EMFILE on its first record): that
// record is dropped and counted, and the next one tries again.
bool reopen_if_forked() {
  if (!g_per_pid) return true;
  long pid = self_pid();
  long seen = g_opened_pid.load(std::memory_order_acquire);
  if (seen == pid) return true;
  if (seen != -pid && g_opened_pid.compare_exchange_strong(seen, -pid, std::memory_order_acq_rel)) {
    // openat is a cancellation point: a thread cancelled half-way would
    // leave the others waiting for ever.
    int old_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state);
    int saved = errno;  // the look before the open fails with ENOENT for a new file
    int fd = place_high(open_file());
    if (fd >= 0) {
      adopt(fd, true);
    } else {
      // Not the parent's file either (a forked child): no sink until one opens.
      Sink old = publish(kNoSink, 0, 0);
      if (old.own && old.fd >= 0) real<Call::close>()(old.fd);
      g_opened_pid.store(0, std::memory_order_release);
    }
    errno = saved;
    pthread_setcancelstate(old_state, nullptr);
    return fd >= 0;
  }
  long now;
  while ((now = g_opened_pid.load(std::memory_order_acquire)) == -pid) sched_yield();
  return now == pid;
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
  *error = "sockdiag: " + setting + ": " + quoted(value) + ": " + why + "; accepted: an absolute path";
  return false;
}

// A forked child has only the thread that forked: the others' writes in
// progress were copied with the counter, and will never end there.
void after_fork_child() {
  g_writers.store(t_writing);
  g_changing.clear();
}

// "N records dropped: log not writable", as a line of the log's format.
void format_dropped(uint64_t n, LineBuffer& b) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t wall = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  if (g_format == Format::json) {
    b.appendf(FMT_COMPILE("{{\"v\":{},\"ts\":\""), kRecordSchemaVersion);
    format_time(wall, b);
    b.appendf(FMT_COMPILE("\",\"pid\":{},\"prog\":"), self_pid());
    b.append_json_string(program_name());
    b.appendf(FMT_COMPILE(",\"level\":\"error\",\"dropped\":{},\"message\":\"{} records dropped: log not writable\"}}"),
              n, n);
  } else {
    b.append("sockdiag ");
    format_time(wall, b);
    b.append_char(' ');
    put_prog_pid(program_name(), self_pid(), b);
    b.appendf(FMT_COMPILE(" error {} records dropped: log not writable"), n);
  }
  b.finish_line();
}

std::atomic<bool> g_said_no_fd{false};

void say_no_fd() {
  if (g_said_no_fd.exchange(true)) return;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) != 0) return;
  Sink s{STDERR_FILENO, classify(STDERR_FILENO, st), false};
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  LineBuffer b;
  b.appendf(FMT_COMPILE("sockdiag: no free fd number for the log that the program would not get next, below "
                        "its limit of open files (RLIMIT_NOFILE {}): running without a log"),
            static_cast<unsigned long long>(rl.rlim_cur));
  b.finish_line();
  put(s, b.view().data(), b.view().size());
}

}  // namespace

int move_high(int fd) {
  int moved = dup_high(fd);
  if (moved < 0) return fd;
  real<Call::close>()(fd);
  return moved;
}

bool log_open(const Config& cfg, std::string* error) {
  g_format = cfg.format;
  g_to_stderr = std::strcmp(cfg.log, "stderr") == 0;
  pthread_atfork(nullptr, nullptr, after_fork_child);
  if (g_to_stderr) {
    adopt_stderr();
    return true;
  }
  const std::string setting = setting_name("SOCKDIAG_LOG", "log");
  if (std::strncmp(cfg.log, "unix:", 5) == 0) {
    // Whether a collector listens is not asked: it may come later, or go
    // and come back (config.cpp checked that the path fits).
    g_collector.sun_family = AF_UNIX;
    std::strncpy(g_collector.sun_path, cfg.log + 5, sizeof(g_collector.sun_path) - 1);
    g_collector_len = sizeof(g_collector);
    // The real call: the library's own socket is not the program's, nor a rule's target.
    int fd = real<Call::socket>()(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      adopt(place_high(fd), true);
      return true;
    }
    if (errno == EMFILE || errno == ENFILE) {
      say_no_fd();
      return true;
    }
    *error = "sockdiag: " + setting + ": " + quoted(cfg.log) + ": cannot make a datagram socket (" +
             std::strerror(errno) + ")";
    return false;
  }
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
      adopt(place_high(fd), true);
      return true;
    }
    // No fd to be had under the program's fd limit is no fault of the
    // setting: the log goes without one, as when no high number is free.
    if ((why.err == EMFILE || why.err == ENFILE) &&
        (why.why == Refusal::no_directory || why.why == Refusal::cannot_open || why.why == Refusal::not_writable)) {
      say_no_fd();
      return true;
    }
  }
  *error = "sockdiag: " + describe_refusal(setting, g_path, Destination::log, why);
  return false;
}

void write_record(int fd, const char* data, std::size_t len) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return;
  if (!put({fd, classify(fd, st), false}, data, len)) count_dropped_record();
}

namespace {
// Out of line, with its line buffer: a record's way keeps only a little of
// the calling thread's stack (a program's threads may have 16 KiB in all).
__attribute__((noinline, cold)) bool say_unsaid(const Sink& s, uint64_t unsaid) {
  LineBuffer b;
  format_dropped(unsaid, b);
  if (put(s, b.view().data(), b.view().size())) return true;
  // Still not writable: the record waiting goes the same way.
  g_unsaid.fetch_add(unsaid, std::memory_order_relaxed);
  count_dropped();
  return false;
}
}  // namespace

void log_write(const char* data, std::size_t len) {
  if (!reopen_if_forked()) {
    count_dropped();
    return;
  }
  WriterScope writing;
  Sink s = unpack(g_sink.load());
  if (s.dest == Dest::none) return;
  if (uint64_t unsaid = g_unsaid.exchange(0, std::memory_order_relaxed))
    if (!say_unsaid(s, unsaid)) return;
  if (!put(s, data, len)) count_dropped();
}


bool is_log_fd(int fd) {
  Sink s = unpack(g_sink.load(std::memory_order_relaxed));
  return fd >= 0 && s.own && fd == s.fd;
}

int log_fd() {
  Sink s = unpack(g_sink.load(std::memory_order_relaxed));
  return s.own ? s.fd : -1;
}

void log_fd_closing(int fd) {
  // The stderr log stops with fd 2: whatever takes number 2 next (a socket,
  // a data file) is not the program's stderr.
  if (g_to_stderr && fd == STDERR_FILENO) publish(kNoSink, 0, 0);
}

void log_fsize_limit_changed() { g_fsize_changes.fetch_add(1, std::memory_order_acq_rel); }

void log_fds_closing(unsigned first, unsigned last, int flags) {
  if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= STDERR_FILENO && STDERR_FILENO <= last) log_fd_closing(STDERR_FILENO);
}

void log_evacuate(int fd) {
  if (g_to_stderr && fd == STDERR_FILENO) {
    // Nothing may be written to fd 2 while it changes; log_dup_done adopts
    // what it becomes.
    publish(kNoSink, 0, 0);
    t_replacing_stderr = true;
    return;
  }
  if (!is_log_fd(fd)) return;
  // The program names our number on purpose: the log moves out of its way
  // (records on their way finish in the old number first), or goes.
  // The old number stays open for the program's dup2 to replace at once.
  int moved = dup_high(fd);
  if (moved < 0) say_no_fd();
  struct stat st {};
  if (moved >= 0) fstat(moved, &st);
  publish(moved >= 0 ? Sink{moved, classify(moved, st), true} : kNoSink, st.st_dev, st.st_ino);
}

void log_dup_done() {
  if (!t_replacing_stderr) return;
  t_replacing_stderr = false;
  adopt_stderr();
}

}  // namespace sd
