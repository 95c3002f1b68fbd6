// The strace engine's records: strace's output (the command line of
// strace_engine.h) read line by line and turned into the records the library
// would write for the same calls, through the same table, levels and
// formats. What strace cannot show is left out, never guessed: the name a
// program resolved, retries, what SIGPIPE did.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config.h"

namespace sdcli {

class TreeSummary;

// What the kernel says of a socket still open in a traced process
// (socket_facts.h): asked for a record only, while the program runs.
struct SocketFacts {
  int domain = 0, type = 0;  // 0: unknown
  sockaddr_storage local{};
  socklen_t local_len = 0;   // 0: unknown
};

struct TraceOutput {
  // One complete record line (ending in '\n') about process `pid`.
  std::function<void(long pid, std::string_view line)> write;
  // The run's counts (--summary), or nullptr.
  TreeSummary* summary = nullptr;
  // strace without -f writes no pid: every line is this process's.
  long root_pid = 0;
  // The facts of PID's descriptor FD if it is still the socket INODE; unset:
  // never asked (tests, fuzzing).
  std::function<bool(long pid, int fd, unsigned long inode, SocketFacts*)> facts_of;
  // The rule strace injects on each system call: its "(INJECTED)" results
  // are that rule's, recorded as the library records an injected failure.
  std::map<std::string, std::string, std::less<>> rule_of_syscall;
};

class TraceReader {
 public:
  TraceReader(const sd::Config& config, TraceOutput output);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Bytes of strace's output, split anywhere.
  void feed(const char* data, std::size_t n);
  // The end of the output: a last line without its newline is not understood.
  // The count of lines not understood goes to the summary.
  void finish();

  uint64_t lines() const;
  uint64_t not_understood() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sdcli
