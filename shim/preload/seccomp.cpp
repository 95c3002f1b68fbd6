// Standing down under a seccomp filter (see seccomp.h), and the prctl()
// entry point through which programs install one (seccomp() has no glibc
// wrapper: it comes through syscall(), syscall_route.cpp).
#include "seccomp.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config_state.h"
#include "interpose.h"
#include "log.h"

namespace sd {

bool g_under_filter = false;

namespace {
bool g_said = false;

// Before the filter is in force: the line is written as records are, so
// that a stderr past RLIMIT_FSIZE (sshd's sandbox sets it to 0 first) or a
// pipe without reader raises no signal that would end the program.
void tell(const std::string& line) { write_record(STDERR_FILENO, line.data(), line.size()); }

// The number after `key` ("\nName:", a line's start) in /proc/self/status,
// or -1. One strstr, not a scan line by line: this runs in every process
// before main (Name: is the first line, never looked up).
long status_field(const char* text, const char* key) {
  const char* at = std::strstr(text, key);
  return at ? std::strtol(at + std::strlen(key), nullptr, 10) : -1;
}
}  // namespace

bool seccomp_filter_coming() {
  long pid = getpid();
  if (config().seccomp == SeccompMode::keep) {
    if (!g_said)
      tell("sockdiag: pid " + std::to_string(pid) +
          " installs a seccomp filter: sockdiag stays on in this process (SOCKDIAG_SECCOMP=keep)\n");
    g_said = true;
    return false;
  }
  // Already passing everything through (a child of --no-follow-children,
  // a second copy of the library): nothing to change, nothing to say.
  if (g_passive) return false;
  g_passive = true;
  g_under_filter = true;
  update_detour();
  if (!g_said)
    tell("sockdiag: pid " + std::to_string(pid) + " installs a seccomp filter: sockdiag stands down in this process\n");
  g_said = true;
  return true;
}

void seccomp_filter_refused() {
  int err = errno;
  g_passive = false;
  g_under_filter = false;
  update_detour();
  tell("sockdiag: pid " + std::to_string(getpid()) + ": the kernel refused the seccomp filter (" +
      std::strerror(err) + "): sockdiag resumes in this process\n");
  errno = err;
}

bool filter_inherited(long* pid) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[8192];
  std::size_t used = 0;
  for (;;) {
    ssize_t n = real<Call::read>()(fd, text + used, sizeof(text) - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
    if (used == sizeof(text) - 1) break;
  }
  real<Call::close>()(fd);
  text[used] = '\0';
  *pid = status_field(text, "\nPid:");
  return status_field(text, "\nSeccomp:") > 0;
}

void seccomp_stand_down_inherited(long pid) {
  g_passive = true;
  g_under_filter = true;
  update_detour();
  // One plain write: blocking signals around it takes calls the filter may
  // refuse.
  say("sockdiag: pid " + std::to_string(pid) +
      " runs under a seccomp filter: sockdiag stands down in this process (SOCKDIAG_SECCOMP=keep keeps it on "
      "where the filter allows the library's calls)\n");
  g_said = true;
}

}  // namespace sd

// prctl(PR_SET_SECCOMP, ...): the library stands down before the filter is
// in force. Every other option goes straight to the next prctl, its four
// optional arguments read as glibc reads them.
extern "C" __attribute__((visibility("default"))) int prctl(int option, ...) noexcept {
  va_list ap;
  va_start(ap, option);
  unsigned long a2 = va_arg(ap, unsigned long);
  unsigned long a3 = va_arg(ap, unsigned long);
  unsigned long a4 = va_arg(ap, unsigned long);
  unsigned long a5 = va_arg(ap, unsigned long);
  va_end(ap);
  using Fn = int (*)(int, ...);
  static std::atomic<Fn> next{nullptr};
  Fn fn = next.load(std::memory_order_relaxed);
  if (!fn) {
    fn = reinterpret_cast<Fn>(sd::find_next("prctl"));
    if (!fn) {
      errno = ENOSYS;
      return -1;
    }
    next.store(fn, std::memory_order_relaxed);
  }
  if (option != PR_SET_SECCOMP) return fn(option, a2, a3, a4, a5);
  bool undo = sd::seccomp_filter_coming();
  int r = fn(option, a2, a3, a4, a5);
  if (r == -1 && undo) sd::seccomp_filter_refused();
  return r;
}
