// The syntax of one line of strace's output, as the strace engine runs it
// (strace_engine.h: -f -ttt -T -y -v -s 0, one output file): who, when,
// which call with which arguments, and what it returned. A call that another
// thread's line interrupted comes in two lines ("<unfinished ...>", then
// "<... NAME resumed>"); LineJoiner puts them back together first.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sdcli {

struct StraceLine {
  enum class Type : uint8_t {
    call,        // NAME(ARGS) = RESULT
    unfinished,  // NAME(ARGS <unfinished ...>: its result comes in a later line
    resumed,     // <... NAME resumed>REST
    signal,      // --- SIGNAME {...} ---
    exited,      // +++ exited with N +++
    killed,      // +++ killed by SIGNAME [(core dumped)] +++
    superseded,  // +++ superseded by execve in pid N +++: a thread's execve took over the process
  };
  Type type = Type::call;
  long tid = 0;         // 0: the line had no pid (strace without -f)
  int64_t wall_us = 0;  // when the call started (-ttt)
  std::string_view name;  // the call, or the signal's name
  std::string_view args;  // between the call's parentheses (resumed: the rest of the line)
  // The result (call only).
  bool returned = true;     // false: "= ?", the call never returned (exit, execve of another thread)
  long ret = 0;
  std::string_view ret_fd;  // "socket:[123]": the -y decoding of a returned descriptor
  std::string_view error;   // "ECONNREFUSED", "ERESTARTSYS"; "" on success
  std::string_view detail;  // what follows the value in parentheses: poll's "[{fd=3, revents=POLLIN}]"
  bool injected = false;    // "(INJECTED)": strace's -e inject made this result
  bool delayed = false;     // "(DELAYED)"
  long number = 0;          // exited: the status; superseded: the pid
};

// Parses one complete line (no '\n'). false: not a line of this form (the
// views are then meaningless). The views point into `line`.
bool parse_strace_line(std::string_view line, StraceLine* out);

// Joins the halves of calls split by other threads' lines. feed() returns
// the text to parse: `line` itself, or the joined call ("" when the line was
// an unfinished half, kept until its end comes). A resumed half with no
// start kept is returned as it is, to be counted as not understood.
class LineJoiner {
 public:
  std::string_view feed(std::string_view line);
  // The thread has ended: a half it left is dropped (exit_group never returns).
  void forget(long tid) { pending_.erase(tid); }
  struct Pending {
    std::string name;   // the call
    std::string start;  // "PID TIME NAME(ARGS"
  };
  // The halves kept, by tid.
  const std::unordered_map<long, Pending>& pending() const { return pending_; }

 private:
  std::unordered_map<long, Pending> pending_;
  std::string joined_;
};

}  // namespace sdcli
