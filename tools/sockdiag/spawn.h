// Starting CMD and waiting for it the way a shell does.
#pragma once
#include <string>
#include <vector>

namespace sdcli {

struct ChildExit {
  bool started = false;  // false: exec failed, see exec_errno
  int exec_errno = 0;
  int wait_status = 0;  // waitpid's status when started
};

// Runs argv[0] (searched in PATH like execvp, files without '#!' run by
// /bin/sh) with exactly `env`, and waits for it. Signals sent to this process
// by another process (kill, a supervisor) are passed on to CMD; those from
// the terminal already reach CMD, which shares our process group, and are
// not sent twice.
ChildExit spawn_and_wait(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// The status a shell would give: CMD's exit status, 128+N for a death by
// signal N (reported on stderr, as a shell would), 127 when CMD is not
// found, 126 when it cannot be executed (reported too).
int shell_status(const ChildExit& child, const std::string& cmd);

}  // namespace sdcli
