// A record, as written to the log: its fields, and its text and JSON forms.
// Pure formatting (no syscalls), so that it is unit-tested on its own.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "config.h"
#include "explain.h"

namespace sd {

// Everything a record says, already gathered from the kernel and the tables.
struct RecordData {
  int64_t wall_ns = 0;        // CLOCK_REALTIME
  long pid = 0, tid = 0;
  const char* prog = "";
  Level level = Level::error;
  const char* call = "";
  int fd = -1;
  const char* kind = "";      // tcp4, unix-stream, ...
  const char* local = "";     // formatted addresses; "" when unknown
  const char* peer = "";
  const char* host = "";      // the name given to getaddrinfo, if any
  long ret = -1;
  Domain domain = Domain::errno_code;
  int code = 0;               // 0: the call succeeded (trace records)
  bool notice = false;        // a notice before the call (injected delay, short): no result yet
  const char* code_name = "";
  const char* message = "";
  const char* explanation = "";  // with placeholders already filled in
  const char* advice = "";
  const char* via = "";       // how the failure surfaced when not a -1 return
  bool injected = false;
  const char* rule = "";      // the injection rule, in normal form
  int retries = 0;
  bool retrying = false;      // this record announces a retry
  uint64_t waited_ns = 0;     // time the retry waited for readiness
  const char* note = "";
  bool have_history = false;  // the connection's history is known
  uint64_t sent = 0, received = 0;
  uint64_t age_ns = 0;
  uint64_t peer_gone_ago_ns = 0;  // the peer was seen gone (EOF/reset) this long ago; 0: not seen
};

// A fixed buffer that never allocates: records are written from hooks that
// may run in signal handlers. Output beyond the capacity is cut, marked "…".
class LineBuffer {
 public:
  static constexpr std::size_t kCapacity = 4096;
  void append(std::string_view s);
  void append_char(char c);
  void append_json_string(std::string_view s);  // quoted and escaped
  // fmt into the remaining space: format_to_n on a char* never allocates.
  // Formats are compiled (FMT_COMPILE): parsing a format string at run time
  // was most of the cost of a record.
  // Sized first, then written straight: format_to_n's truncating iterator
  // goes a character at a time.
  template <class S, class... Args>
  void appendf(const S& f, const Args&... args) {
    std::size_t room = kCapacity - len_;
    std::size_t size = fmt::formatted_size(f, args...);
    if (size <= room) {
      fmt::format_to(buf_ + len_, f, args...);
      len_ += size;
      return;
    }
    fmt::format_to_n(buf_ + len_, room, f, args...);
    len_ = kCapacity;
    truncated_ = true;
  }
  std::string_view view() const { return {buf_, len_}; }
  bool truncated() const { return truncated_; }
  void clear() { len_ = 0; truncated_ = false; }
  void finish_line();  // ends with '\n', even when cut

 private:
  char buf_[kCapacity];
  std::size_t len_ = 0;
  bool truncated_ = false;
};

// "127.0.0.1:80", "[::1]:443", "/run/app.sock", "@abstract", "unnamed".
// Writes at most `cap` bytes including the NUL. Returns `out`.
char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap);

// "2026-11-27T23:59:01.123456Z" (UTC, computed without libc's time zone lock).
void format_time(int64_t wall_ns, LineBuffer& out);

// "850 us", "1.2 ms", "3.4 s", "2 min 5 s".
void format_duration(uint64_t ns, LineBuffer& out);

// Fills the placeholders {peer} {local} {host} {fd} {call} {sent} {received} {age}.
void fill_template(const char* text, const RecordData& r, LineBuffer& out);

// One complete line (ending in '\n') in the configured format.
void format_record(const RecordData& r, Format format, LineBuffer& out);

}  // namespace sd
