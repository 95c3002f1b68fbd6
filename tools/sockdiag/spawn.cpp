#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "text.h"

namespace sdcli {

namespace {

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_stop_waiting = 0;  // CMD has ended, and a signal says: summarise now

// Signals that end a process by default and that a supervisor sends to the
// process it started; they are passed on to CMD.
constexpr int kForwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

void forward(int sig, siginfo_t* info, void*) {
  pid_t child = g_child;
  if (child <= 0) {
    g_stop_waiting = 1;
    return;
  }
  // SI_KERNEL: the terminal sent it to the whole foreground process group,
  // CMD included. Anything a process sent to us alone goes on to CMD.
  if (info && info->si_code == SI_KERNEL) return;
  int saved = errno;
  kill(child, sig);
  errno = saved;
}

// Reaps CMD and the orphans of its tree until none is left (or a signal
// stops the wait after CMD has ended); CMD's status in `result`.
void wait_for_tree(pid_t cmd, ChildExit& result, const std::string& name) {
  bool cmd_ended = false;
  for (;;) {
    if (cmd_ended && g_stop_waiting) {
      result.tree_running = true;
      break;
    }
    int status = 0;
    pid_t w = waitpid(-1, &status, 0);
    if (w == cmd) {
      result.wait_status = status;
      cmd_ended = true;
      g_child = 0;
      if (waitpid(-1, nullptr, WNOHANG) == 0)
        std::fprintf(stderr,
                     "sockdiag run: %s has ended; waiting for the processes it left running (interrupt to "
                     "stop waiting)\n",
                     one_line(name).c_str());
    }
    if (w < 0 && errno != EINTR) break;  // ECHILD: the whole tree has ended
  }
}

}  // namespace

bool spawn_interrupted() { return g_stop_waiting != 0; }

ChildExit spawn_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool whole_tree,
                         const SpawnHooks& hooks) {
  ChildExit result;
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  struct sigaction sa {};
  sa.sa_sigaction = forward;
  // No SA_RESTART: the wait for the tree must see a signal that ends it.
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  struct sigaction old[sizeof kForwarded / sizeof kForwarded[0]];
  for (std::size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i) sigaction(kForwarded[i], &sa, &old[i]);

  // Blocked across vfork so that no handler runs in the child before it has
  // put back the original dispositions.
  sigset_t all, saved_mask;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &saved_mask);
  g_stop_waiting = 0;
  if (whole_tree) prctl(PR_SET_CHILD_SUBREAPER, 1);
  // vfork, not fork: the child borrows this process's memory until its exec
  // instead of copying the page tables of a command linked with a static
  // libstdc++ (fork made `sockdiag run -- true` some 10 ms slower than
  // `true`). The child only restores dispositions and mask (its own: vfork
  // shares no signal table), execs (glibc's execvpe allocates nothing) and
  // leaves its errno where the parent, resumed after the exec or _exit,
  // reads it.
  volatile int exec_errno = 0;
  pid_t pid = vfork();
  if (pid == 0) {
    for (std::size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i)
      sigaction(kForwarded[i], &old[i], nullptr);
    sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
    execvpe(args[0], args.data(), envp.data());
    exec_errno = errno;
    _exit(127);
  }
  int fork_errno = errno;
  if (pid > 0) g_child = pid;
  sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
  if (pid < 0) {
    result.exec_errno = fork_errno;
  } else if (exec_errno != 0) {
    // The child ended at once, unobserved by anyone else: reaped here.
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;
    result.exec_errno = exec_errno;
  } else {
    result.started = true;
    if (hooks.started) hooks.started(pid);
    if (whole_tree) {
      wait_for_tree(pid, result, argv.front());
    } else {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      result.wait_status = status;
    }
  }
  g_child = 0;
  if (hooks.after_cmd) hooks.after_cmd();
  if (whole_tree) prctl(PR_SET_CHILD_SUBREAPER, 0);
  for (std::size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i) sigaction(kForwarded[i], &old[i], nullptr);
  return result;
}

int shell_status(const ChildExit& child, const std::string& command) {
  const std::string cmd = one_line(command);  // the user's word, on one inert line
  if (!child.started) {
    bool missing = child.exec_errno == ENOENT || child.exec_errno == ENOTDIR;
    if (missing && cmd.find('/') == std::string::npos)
      std::fprintf(stderr, "sockdiag run: %s: command not found\n", cmd.c_str());
    else
      std::fprintf(stderr, "sockdiag run: cannot execute %s: %s\n", cmd.c_str(), strerror(child.exec_errno));
    return missing ? 127 : 126;
  }
  int st = child.wait_status;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    std::fprintf(stderr, "sockdiag run: %s was killed by signal %d (%s: %s)%s\n", cmd.c_str(), sig,
                 signal_name(sig).c_str(), strsignal(sig), WCOREDUMP(st) ? ", core dumped" : "");
    return 128 + sig;
  }
  return 1;
}

}  // namespace sdcli
