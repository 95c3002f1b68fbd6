// Turning one failure into a count and, at its level, a record.
#pragma once
#include <sys/socket.h>

#include "explain.h"
#include "fdtable.h"
#include "interpose.h"

namespace sd {

// The outcome of one hooked call, as the observers saw it: a failure (code
// set), a success recorded at trace level (code 0), a retry notice, or an
// event met without a -1 return (EOF, POLLHUP).
struct Outcome {
  Call call;
  int fd = -1;
  long ret = -1;
  CodeKind code_kind = CodeKind::errno_code;
  int code = 0;                 // 0: a successful call, recorded at trace level
  uint32_t situation = 0;       // Situation bits the caller knows (more are found here)
  const sockaddr* addr = nullptr;  // the address the call named (connect, sendto, bind)
  socklen_t addr_len = 0;
  const char* host = nullptr;   // getaddrinfo's node
  const char* via = nullptr;    // how it surfaced when not a -1 return ("SO_ERROR", "poll")
  const char* rule = nullptr;   // normal form of the injection rule that caused it
  int retries = 0;
  bool retrying = false;        // a notice of one retry (info), not a failure
  uint64_t retry_waited_ns = 0;
  const char* note = nullptr;   // a fact to add (what SIGPIPE did)
  uint64_t peer_gone_ns = 0;    // when the peer was first seen gone (EOF/RST), monotonic
  Kind kind = Kind::unknown;    // what fd was, when the kernel can no longer tell (closed)
  bool connects = false;        // a send with MSG_FASTOPEN: explained as the connect it is
};

// Counts the failure and writes its record if its level is enabled.
// Keeps errno. Cold path: never inlined into a hook.
__attribute__((noinline, cold)) void report(const Outcome&);

}  // namespace sd
