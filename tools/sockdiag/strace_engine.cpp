// The strace engine (strace_engine.h).
//
// Processes of a run: sockdiag, which starts strace and waits for CMD as it
// does under the library (spawn.h: signals forwarded, the shell's status);
// CMD, with the pid sockdiag forked (strace -DD execs CMD in the process it
// was started in, and traces it from a grandchild in its own process group);
// the tracer; and the reader, a fork of sockdiag made before strace starts,
// which reads the FIFO to its end and writes the records (and the summary).
//
// The reader is a process, not a thread, because strace's output must be
// read for as long as the tracer writes it: a daemon that CMD leaves running
// stays traced, and the tracer blocks when the FIFO is full. Stopping the
// tracer early is no way out: under --seccomp-bpf a detached process gets
// ENOSYS from every call of the trace set (its filter stays, with no tracer
// to answer it). So without --summary, `sockdiag run` returns when CMD has
// ended and the reader, on its own, goes on writing the daemon's records, as
// the library would in the daemon.
#include "strace_engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "elf_inspect.h"
#include "escape.h"
#include "locate.h"
#include "socket_facts.h"
#include "spawn.h"
#include "text.h"
#include "trace_log.h"
#include "trace_reader.h"
#include "tree_summary.h"
#include "usage.h"

namespace sdcli {

const char* const kStraceTraceSet =
    "%network,read,write,readv,writev,close,?close_range,dup,dup2,dup3,?poll,ppoll,?select,pselect6,?epoll_wait,"
    "epoll_pwait,?epoll_pwait2,epoll_ctl,clone,?clone3,?fork,?vfork,execve,execveat";

namespace {

// How long the end of strace's output may lag behind CMD's exit before
// `sockdiag run` concludes that CMD left processes running (the tracer
// writes their exit lines, then exits, within a few milliseconds).
constexpr int kGraceMs = 200;

// The private directory (mode 0700) holding the FIFO strace writes to;
// removed whatever happens to the run. Once both ends are open the names are
// no longer needed.
class FifoDir {
 public:
  FifoDir() {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/sockdiag-strace-XXXXXX";
    if (!mkdtemp(dir_.data()))
      throw UsageError("cannot create a private directory " + dir_ + ": " + std::strerror(errno));
    fifo_ = dir_ + "/trace";
    if (mkfifo(fifo_.c_str(), 0600) != 0) {
      int err = errno;
      rmdir(dir_.c_str());
      throw UsageError("cannot create the FIFO " + fifo_ + ": " + std::strerror(err));
    }
  }
  ~FifoDir() {
    unlink(fifo_.c_str());
    rmdir(dir_.c_str());
  }
  FifoDir(const FifoDir&) = delete;
  FifoDir& operator=(const FifoDir&) = delete;
  const std::string& fifo() const { return fifo_; }

 private:
  std::string dir_, fifo_;
};

// Standard descriptors the caller closed, held by /dev/null for as long as
// the run's own descriptors are made: the FIFO or a pipe must never take
// number 0, 1 or 2, which the reader gives to /dev/null (and strace to the
// program). Close-on-exec: strace, and so the program, get them closed,
// as they were given.
class StandardFdsHeld {
 public:
  StandardFdsHeld() {
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd)
      if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
        int held = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (held == fd) held_[fd] = true;
        else if (held >= 0) close(held);
      }
  }
  ~StandardFdsHeld() {
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd)
      if (held_[fd]) close(fd);
  }
  StandardFdsHeld(const StandardFdsHeld&) = delete;
  StandardFdsHeld& operator=(const StandardFdsHeld&) = delete;

 private:
  bool held_[3] = {false, false, false};
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

using RuleOfSyscall = std::map<std::string, std::string, std::less<>>;

// Which rule each injected system call's "(INJECTED)" results are: the one
// strace was given for it (one per system call).
RuleOfSyscall rule_of_syscall(const std::vector<RuleMapping>& rules) {
  RuleOfSyscall out;
  for (const RuleMapping& m : rules)
    if (!m.inject.empty())
      for (const std::string& call : m.syscalls) out.emplace(call, m.rule);
  return out;
}

volatile sig_atomic_t g_summarise_now = 0;
void on_summarise(int) { g_summarise_now = 1; }

void print_summary(TreeSummary& tree, const sd::Config& config, bool still_running) {
  if (still_running) tree.set_still_running();
  if (config.format == sd::Format::json)
    tree.print_json(stderr);
  else
    tree.print_text(stderr);
  std::fflush(stderr);
}

// Reads and turns into records until no writer is left; SIGUSR1 (unblocked
// only in ppoll) asks for the summary so far. `pid_pipe` gives CMD's pid
// first (strace without -f writes none), or nothing if CMD did not start.
void read_to_end(int fifo, int pid_pipe, int done, const sigset_t& waiting, const sd::Config& config,
                 bool summary, const RuleOfSyscall& rules) {
  RecordLog log(config);
  std::unique_ptr<TreeSummary> tree(summary ? new TreeSummary : nullptr);
  TraceOutput out;
  out.write = [&log](long pid, std::string_view line) { log.write(pid, line); };
  out.summary = tree.get();
  out.facts_of = socket_facts;
  int pid = 0;
  while (read(pid_pipe, &pid, sizeof pid) < 0 && errno == EINTR) {
  }
  out.root_pid = pid;
  out.rule_of_syscall = rules;
  TraceReader reader(config, std::move(out));
  std::vector<char> buf(1 << 16);
  bool summarised = false, root_said = false;
  for (;;) {
    if (g_summarise_now && tree && !summarised) {
      print_summary(*tree, config, true);
      summarised = true;
      (void)!write(done, "s", 1);
    }
    pollfd p{fifo, POLLIN, 0};
    if (ppoll(&p, 1, nullptr, &waiting) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t n = read(fifo, buf.data(), buf.size());
    if (n > 0) {
      reader.feed(buf.data(), static_cast<std::size_t>(n));
      // Every record of CMD's own calls is out: `run` may return.
      if (!root_said && reader.root_ended()) {
        root_said = true;
        (void)!write(done, "r", 1);
      }
    } else if (n == 0) {
      break;  // no writer left: the tracer has exited
    } else if (errno != EAGAIN && errno != EINTR) {
      break;
    }
  }
  reader.finish();
  if (tree && !summarised) print_summary(*tree, config, false);
}

// The reader process: strace's output, from `fifo` (opened O_NONBLOCK by
// sockdiag: poll wakes at data, or once a writer has come and gone) to its
// end. SIGUSR1 (sockdiag was interrupted while CMD's processes ran on):
// the summary now, then on with the records. `done` is closed at exit, and
// written to once the early summary is out.
[[noreturn]] void read_trace(int fifo, int pid_pipe, int done, const sd::Config& config, bool summary,
                             const RuleOfSyscall& rules) {
  // The run's terminal signals are CMD's business; the output must be read
  // to its end whatever happens to sockdiag (the tracer blocks otherwise).
  for (int sig : {SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGPIPE, SIGTSTP, SIGTTOU})
    signal(sig, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_summarise;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, &waiting);
  sigdelset(&waiting, SIGUSR1);
  // Records go to stderr or the log: the reader may outlive sockdiag, and
  // must not keep open a pipe that sockdiag's caller reads to its end.
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
  }
  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(fds)) {
      int fd = std::atoi(e->d_name);
      if (fd > STDERR_FILENO && fd != fifo && fd != pid_pipe && fd != done && fd != dirfd(fds)) close(fd);
    }
    closedir(fds);
  }

  // Nothing may unwind out of this fork into sockdiag's own code.
  try {
    read_to_end(fifo, pid_pipe, done, waiting, config, summary, rules);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sockdiag run: the trace reader stopped: %s\n", one_line(e.what()).c_str());
  }
  std::fflush(stderr);
  _exit(0);
}

// What the reader says on `done`: 'r' once it has read CMD's end (every
// record of CMD's own calls is out), 's' once an early summary is out, and
// the end of the pipe when it has ended.
enum class ReaderNews { none, root_ended, summarised, ended };

// The reader's next news; none after `timeout_ms` (-1: no limit) or a
// signal that asks sockdiag to stop waiting.
ReaderNews wait_reader(int done, int timeout_ms) {
  for (;;) {
    pollfd p{done, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r > 0) {
      char c = 0;
      ssize_t n = read(done, &c, 1);
      if (n == 1) return c == 'r' ? ReaderNews::root_ended : ReaderNews::summarised;
      if (n < 0 && errno == EINTR && !spawn_interrupted()) continue;
      return n == 0 ? ReaderNews::ended : ReaderNews::none;
    }
    if (r == 0 || errno != EINTR || spawn_interrupted()) return ReaderNews::none;
  }
}

// Tracing as strace -DD does it: a grandchild attaches to its grandparent,
// which has named any process its tracer (Yama's level 1 allows that; strace
// does the same). "" when the kernel allows it, else errno's text.
std::string ptrace_refusal() {
  pid_t tracee = fork();
  if (tracee < 0) return std::strerror(errno);
  if (tracee == 0) {
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);  // EINVAL without Yama: nothing to allow
    pid_t tracer = fork();
    if (tracer == 0) {
      // Exiting detaches: the tracee runs on, and reports the result.
      if (ptrace(PTRACE_SEIZE, getppid(), nullptr, nullptr) == 0) _exit(0);
      _exit(errno == 0 || errno > 254 ? 255 : errno);
    }
    int status = 0;
    while (tracer > 0 && waitpid(tracer, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(tracer < 0 ? 255 : WIFEXITED(status) ? WEXITSTATUS(status) : 255);
  }
  int status = 0;
  while (waitpid(tracee, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  if (code == 0) return "";
  return code == 255 ? "the test process failed" : std::strerror(code);
}

// The settings file (SOCKDIAG_CONFIG) has a line for `key`.
bool file_sets(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k;
    for (char c : line.substr(0, eq))
      if (c != ' ' && c != '\t') k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == key) return true;
  }
  return false;
}

}  // namespace

Engine parse_engine(const std::string& word) {
  if (word == "auto") return Engine::automatic;
  if (word == "preload") return Engine::preload;
  if (word == "strace") return Engine::strace;
  throw UsageError("--engine " + sd::quoted(word) + " is not an engine; accepted: auto, preload, strace");
}

void check_strace_settings(const Settings& settings, const sd::Config& config) {
  for (uint32_t calls : config.retry_calls)
    if (calls)
      throw UsageError(
          "the strace engine cannot retry calls for the program (--retry, SOCKDIAG_RETRY): strace only "
          "observes them; run without retries, or with --engine preload for a dynamically linked program");
  const auto& vars = settings.variables();
  auto config_file = vars.find("SOCKDIAG_CONFIG");
  bool explicit_sigpipe = vars.count("SOCKDIAG_SIGPIPE") ||
                          (config_file != vars.end() && file_sets(config_file->second, "sigpipe"));
  if (explicit_sigpipe && config.sigpipe == sd::SigpipeMode::ignore)
    throw UsageError(
        "the strace engine cannot make the program ignore SIGPIPE (--sigpipe ignore, SOCKDIAG_SIGPIPE): "
        "under strace SIGPIPE keeps its default; drop the setting or give --sigpipe keep");
}

std::string strace_or_refusal() {
  std::string strace = find_in_path("strace");
  if (strace.empty() || access(strace.c_str(), X_OK) != 0)
    throw UsageError(
        "the strace engine needs strace, and there is none in PATH: install it (e.g. apt-get install "
        "strace), or give --engine preload to run the program unobserved");
  std::string refused = ptrace_refusal();
  if (refused.empty()) return strace;
  std::string scope;
  std::ifstream yama("/proc/sys/kernel/yama/ptrace_scope");
  int level = -1;
  if (yama >> level) scope = "kernel.yama.ptrace_scope is " + std::to_string(level) + "; ";
  std::string what = level == 3   ? "tracing is disabled until reboot"
                     : level == 2 ? "only root (CAP_SYS_PTRACE) may trace; sysctl kernel.yama.ptrace_scope=1 allows it"
                     : level == 1 ? "sysctl kernel.yama.ptrace_scope=0 allows it"
                                  : "in a container, give it CAP_SYS_PTRACE or a seccomp profile that allows ptrace";
  throw UsageError("the strace engine cannot work here: the kernel refuses tracing (ptrace: " + refused + "; " +
                   scope + what + "); give --engine preload to run the program unobserved");
}

int run_under_strace(const RunOptions& o, const sd::Config& config, const std::string& strace,
                     const std::vector<std::string>& env, const std::vector<RuleMapping>& rules) {
  // CMD is looked for as execvp would, before strace starts, so that a
  // missing or unusable CMD gives the shell's status and message, not strace's.
  std::vector<std::string> cmd = o.cmd;
  std::string path = find_in_path(cmd.front());
  ChildExit child;
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) {
    child.exec_errno = path.empty() ? ENOENT : errno;
    return shell_status(child, cmd.front());
  }
  if (S_ISDIR(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    child.exec_errno = EACCES;
    return shell_status(child, cmd.front());
  }
  FileFacts facts;
  std::string error;
  if (inspect_file(path, &facts, &error) && facts.kind == FileKind::other) cmd.insert(cmd.begin(), "/bin/sh");

  StandardFdsHeld standard;
  FifoDir dir;
  Fd fifo(open(dir.fifo().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fifo.get() < 0) throw UsageError("cannot open the FIFO " + dir.fifo() + ": " + std::strerror(errno));
  int done_pipe[2], pid_pipe[2];
  if (pipe2(done_pipe, O_CLOEXEC) != 0) throw UsageError(std::string("cannot make a pipe: ") + std::strerror(errno));
  Fd done(done_pipe[0]), done_writer(done_pipe[1]);
  if (pipe2(pid_pipe, O_CLOEXEC) != 0) throw UsageError(std::string("cannot make a pipe: ") + std::strerror(errno));
  Fd pid_reader(pid_pipe[0]), pid_writer(pid_pipe[1]);
  std::fflush(nullptr);
  pid_t reader = fork();
  if (reader < 0) throw UsageError(std::string("cannot start the trace reader: ") + std::strerror(errno));
  if (reader == 0) {
    close(done_pipe[0]);
    close(pid_pipe[1]);
    read_trace(fifo.get(), pid_pipe[0], done_pipe[1], config, o.summary, rule_of_syscall(rules));
  }
  done_writer.reset();
  pid_reader.reset();
  fifo.reset();

  // strace itself runs without the user's LD_PRELOAD, which is CMD's (-E).
  std::vector<std::string> argv = {strace, "-DD"};
  if (o.follow_children) argv.insert(argv.end(), {"-f", "--seccomp-bpf"});  // the filter needs -f
  // An injection on a call strace does not trace never happens: the
  // rules' system calls join the set (-e trace= adds up).
  std::string trace_set = kStraceTraceSet;
  for (const std::string& call : inject_syscalls(rules)) trace_set += "," + call;
  argv.insert(argv.end(), {"-q", "-y", "-v", "-s", "0", "-ttt", "-T", "-o", dir.fifo(), "-e", "trace=" + trace_set});
  for (const RuleMapping& m : rules)
    if (!m.inject.empty()) argv.insert(argv.end(), {"-e", "inject=" + m.inject});
  std::vector<std::string> strace_env;
  for (const std::string& e : env) {
    if (e.rfind("LD_PRELOAD=", 0) == 0)
      argv.insert(argv.end(), {"-E", e});
    else
      strace_env.push_back(e);
  }
  argv.push_back("--");
  argv.insert(argv.end(), cmd.begin(), cmd.end());

  SpawnHooks hooks;
  hooks.started = [&pid_writer](int pid) {
    (void)!write(pid_writer.get(), &pid, sizeof pid);
    pid_writer.reset();
  };
  hooks.after_cmd = [&]() {
    pid_writer.reset();  // CMD did not start: the reader reads no pid
    // A writer opened and closed: if strace never opened the FIFO (a bad
    // option, a failed exec), the reader sees the end now, not never.
    int poke = open(dir.fifo().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (poke >= 0) close(poke);
    // First every record of CMD's own calls: a log read after `run`
    // returns is whole, however far behind the reader was.
    ReaderNews news = wait_reader(done.get(), -1);
    // Without --summary, the records of processes CMD left running keep
    // coming from the reader, as the library's would from them.
    if (news == ReaderNews::root_ended && o.summary) {
      news = wait_reader(done.get(), kGraceMs);
      if (news == ReaderNews::none && !spawn_interrupted()) {
        std::fprintf(stderr,
                     "sockdiag run: %s has ended; waiting for the processes it left running (interrupt to "
                     "summarise now)\n",
                     one_line(o.cmd.front()).c_str());
        news = wait_reader(done.get(), -1);
      }
      if (news == ReaderNews::none) {
        // Interrupted: the summary so far; the reader reads on.
        kill(reader, SIGUSR1);
        wait_reader(done.get(), -1);
        return;
      }
    }
    if (news == ReaderNews::ended)
      while (waitpid(reader, nullptr, 0) < 0 && errno == EINTR) {
      }
  };
  child = spawn_and_wait(argv, strace_env, false, hooks);
  return shell_status(child, o.cmd.front());
}

}  // namespace sdcli
