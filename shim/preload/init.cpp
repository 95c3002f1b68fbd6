// Start-up and shut-down of the library: configuration before main, the
// fork handler, and the exit summary.
#include <pthread.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config_state.h"
#include "control.h"
#include "destination.h"
#include "interpose.h"
#include "inject.h"
#include "inject_datagram.h"
#include "log.h"
#include "progname.h"
#include "policy_retry.h"
#include "report.h"
#include "seccomp.h"
#include "summary.h"
#include "vm_children.h"

namespace sd {

Config g_config;
bool g_trace = false;
bool g_passive = false;
bool g_log_expected = false;
std::atomic<uint32_t> g_detour{0};

namespace {
std::atomic<bool> g_settings_detour{false};
}

void say(const std::string& line) { real<Call::write>()(STDERR_FILENO, line.data(), line.size()); }

void update_detour() {
  // Any thread may call it (a live change of the rules, control.h): the
  // exchange makes one of them count each change of `on`.
  bool on = g_passive || g_rules.load(std::memory_order_acquire) != nullptr || g_retry_enabled || g_log_expected;
  if (g_settings_detour.exchange(on) != on) g_detour.fetch_add(on ? 1u : ~0u);
}

namespace {

std::atomic<int> g_state{0};  // 0: not started, 1: starting, 2: ready

const char* lookup_env(const char* name, void*) { return getenv(name); }

void after_fork_child() {
  // The child inherits the filter: the library makes no call of its own.
  if (g_under_filter) return;
  // --no-follow-children: a forked child runs as if sockdiag were absent.
  if (!g_config.follow_children) g_passive = true;
  update_detour();
  vm_children_after_start();
  summary_after_fork();
  control_after_fork();
  inject_after_fork();
}

// The path of this library, to find it in LD_PRELOAD.
bool same_file(std::string_view path, const struct stat& self) {
  std::string p(path);
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && st.st_dev == self.st_dev && st.st_ino == self.st_ino;
}

// --no-follow-children: programs this one executes must not load the library
// nor read its settings. LD_PRELOAD is shortened in place (main's envp sees
// the same strings) and the SOCKDIAG_ variables are removed.
void leave_environment() {
  Dl_info info{};
  struct stat self {};
  if (dladdr(reinterpret_cast<void*>(&leave_environment), &info) && info.dli_fname &&
      stat(info.dli_fname, &self) == 0) {
    if (char* preload = getenv("LD_PRELOAD")) {
      std::string kept;
      std::string_view rest(preload);
      while (!rest.empty()) {
        std::size_t end = rest.find_first_of(": ");
        std::string_view entry = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (entry.empty() || same_file(entry, self)) continue;
        if (!kept.empty()) kept += ':';
        kept += entry;
      }
      if (kept.empty()) unsetenv("LD_PRELOAD");
      else std::memcpy(preload, kept.c_str(), kept.size() + 1);  // never longer than before
    }
  }
  for (;;) {
    char** e = environ;
    while (e && *e && std::strncmp(*e, "SOCKDIAG_", 9) != 0) ++e;
    if (!e || !*e) break;
    std::string name(*e, std::strcspn(*e, "="));
    unsetenv(name.c_str());
  }
}

// Address space the library's start-up may need (settings, rules, the first
// fd chunks). Under an RLIMIT_AS that leaves less, an allocation of ours
// would fail where nothing can report it (libstdc++ cannot even allocate
// the exception) and abort the program.
constexpr unsigned long kStartReserveKiB = 2048;

// KiB of address space left under RLIMIT_AS; false when it is unlimited.
bool address_space_left(unsigned long* kib) {
  rlimit rl{};
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return false;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[64] = {};
  ssize_t n = real<Call::read>()(fd, text, sizeof(text) - 1);
  real<Call::close>()(fd);
  if (n <= 0) return false;
  unsigned long used = std::strtoul(text, nullptr, 10) * static_cast<unsigned long>(sysconf(_SC_PAGESIZE));
  *kib = rl.rlim_cur > used ? (rl.rlim_cur - used) / 1024 : 0;
  return true;
}

// Refused settings: one line on stderr, then the process stops before main
// with EX_CONFIG rather than running without what the user asked for.
[[noreturn]] void refuse(const std::string& message) {
  say(message + " (stopping before main, exit status " + std::to_string(kConfigErrorStatus) + ")\n");
  _exit(kConfigErrorStatus);
}

// An environment entry SOCKDIAG_*.
bool is_setting(const char* entry) {
  const char* prefix = "SOCKDIAG_";
  while (*prefix && *entry == *prefix) ++entry, ++prefix;
  return *prefix == '\0';
}

// The settings from the environment (and SOCKDIAG_CONFIG's file), parsed
// into g_config; refused ones stop the process. With no SOCKDIAG_ variable
// set there is nothing to parse: g_config keeps its defaults.
void read_settings() {
  // A look before anything else: most processes have no setting, and each
  // first call of a libc function costs its lazy binding (some 700
  // instructions).
  char** first = environ;
  while (first && *first && !is_setting(*first)) ++first;
  if (!first || !*first) return;
  // Secure-execution mode (setuid, setcap): the environment belongs to
  // whoever started the program, so nothing is read from it.
  if (getauxval(AT_SECURE)) return;
  std::vector<std::string> names;
  for (char** e = first; *e; ++e) {
    if (!is_setting(*e)) continue;
    const char* eq = std::strchr(*e, '=');
    names.emplace_back(*e, eq ? static_cast<std::size_t>(eq - *e) : std::strlen(*e));
  }
  std::vector<const char*> name_ptrs;
  for (const std::string& n : names) name_ptrs.push_back(n.c_str());
  name_ptrs.push_back(nullptr);
  std::string error;
  if (!parse_config(lookup_env, nullptr, name_ptrs.data(), &g_config, &error)) refuse(error);
}

}  // namespace

void ensure_init() {
  if (g_state.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  // Another thread is starting the library: this call uses the defaults.
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  note_process_start();
  remember_program_name();
  resolve_all();
  syscall_route_bind();
  // A seccomp filter inherited across exec: decided before the library
  // makes any call of its own (seccomp.h).
  const Config& cfg = g_config;
  bool settings_read = false;
  long filtered_pid = 0;
  if (filter_inherited(&filtered_pid)) {
    read_settings();
    settings_read = true;
    if (cfg.seccomp == SeccompMode::standdown) {
      if (!cfg.follow_children) leave_environment();
      seccomp_stand_down_inherited(filtered_pid);
      g_state.store(2, std::memory_order_release);
      return;
    }
  }
  vm_children_after_start();
  unsigned long left_kib = 0;
  if (address_space_left(&left_kib) && left_kib < kStartReserveKiB) {
    g_passive = true;
    update_detour();
    say("sockdiag: RLIMIT_AS leaves " + std::to_string(left_kib) + " KiB of address space (sockdiag needs " +
        std::to_string(kStartReserveKiB) + "): the library stands down in this process\n");
    g_state.store(2, std::memory_order_release);
    return;
  }
  // Two copies of the library preloaded (an installed one and a build's):
  // both would record every call. The later one passes everything through.
  const char* first_copy = nullptr;
  if (another_copy_first(&first_copy)) {
    g_passive = true;
    update_detour();
    Dl_info self{};
    dladdr(reinterpret_cast<void*>(&ensure_init), &self);
    say(std::string("sockdiag: ") + (self.dli_fname ? self.dli_fname : "this copy of libsockdiag") +
        " stands down: another copy of the library, " + (first_copy ? first_copy : "?") +
        ", is loaded before it and records\n");
    g_state.store(2, std::memory_order_release);
    return;
  }
  if (!settings_read) read_settings();
  if (!cfg.follow_children) leave_environment();
  g_trace = cfg.level >= Level::trace;
  g_log_expected = cfg.level >= Level::debug;
  // inetd, git daemon and socat EXEC hand a connection to an exec'd
  // program as fds 0-2, and it may meet a reset on one before using it
  // (reading fd 0 after writing fd 1): once reset, the kernel no longer
  // tells its peer, so these three are learned now, before the log may
  // take a free one of their numbers. Others are learned on first use.
  for (int fd = 0; fd <= 2; ++fd) kind_of(fd);
  // No log fd at all when nothing will be written to it: the program keeps
  // every fd number (first: configuring injection may write a notice).
  // Where records go is checked now too: a log that cannot be written
  // would lose every record without a word.
  std::string refused;
  if ((cfg.level != Level::off || (cfg.summary && !cfg.summary_path[0])) && !log_open(g_config, &refused))
    refuse(refused);
  // Under `sockdiag run --summary` (a counter table given) the file is the
  // command's fallback, needed only by a process that cannot share the
  // table: a program exec'd after a privilege drop cannot open it, and must
  // run all the same, counting into the table.
  if (cfg.summary_path[0] && cfg.counters_fd < 0 && !summary_path_usable(cfg.summary_path, &refused))
    refuse(refused);
  retry_configure();
  control_start();
  inject_configure();
  control_publish_start();
  summary_configure();
  update_detour();
  pthread_atfork(nullptr, nullptr, after_fork_child);
  g_state.store(2, std::memory_order_release);
}

}  // namespace sd

__attribute__((constructor)) static void sockdiag_start() { sd::ensure_init(); }

// Runs after the program's atexit handlers and static destructors (the
// library was initialised before the program, so it is finalised after it);
// nothing is destroyed here, so their socket calls still work.
__attribute__((destructor)) static void sockdiag_stop() {
  sd::datagram_flush_all();  // a datagram held back is sent late, never lost
  if (sd::config().summary && !sd::g_passive) sd::write_summary();
  sd::control_stop();
}
