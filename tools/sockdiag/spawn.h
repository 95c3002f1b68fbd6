// Starting CMD and waiting for it the way a shell does.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace sdcli {

struct ChildExit {
  bool started = false;  // false: exec failed, see exec_errno
  int exec_errno = 0;
  int wait_status = 0;  // waitpid's status when started
  bool tree_running = false;  // whole_tree: the wait for the tree was cut short by a signal
};

// Runs argv[0] (searched in PATH like execvp, files without '#!' run by
// /bin/sh) with exactly `env`, and waits for it. Signals sent to this process
// by another process (kill, a supervisor) are passed on to CMD; those from
// the terminal already reach CMD, which shares our process group, and are
// not sent twice.
//
// whole_tree: also waits, after CMD, for every process CMD left running (a
// daemon that double-forked): this process becomes their child subreaper
// (PR_SET_CHILD_SUBREAPER), so orphans of the tree are reparented to it, not
// to init (their getppid() names it), and reaped as they end. Not bounded by
// a time: a timeout would cut a long-lived daemon's counts at an arbitrary
// point. A signal that would otherwise go to CMD (SIGINT, SIGTERM, ...)
// ends the wait at once instead; the processes left keep running.
//
// hooks.started, when given, runs as soon as CMD has started, with its pid.
// hooks.after_cmd, when given, runs once CMD has been reaped (or has failed
// to start), while signals are still caught: it waits for what outlives CMD
// (the strace engine's output), and stops when spawn_interrupted() turns
// true (a signal came after CMD's end; its blocking calls see EINTR).
struct SpawnHooks {
  std::function<void(int pid)> started;
  std::function<void()> after_cmd;
};
ChildExit spawn_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool whole_tree,
                         const SpawnHooks& hooks = {});
bool spawn_interrupted();

// The status a shell would give: CMD's exit status, 128+N for a death by
// signal N (reported on stderr, as a shell would), 127 when CMD is not
// found, 126 when it cannot be executed (reported too).
int shell_status(const ChildExit& child, const std::string& cmd);

}  // namespace sdcli
