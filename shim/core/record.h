// A record, as written to the log: its fields, and its text and JSON forms.
// Pure formatting (no syscalls), so that it is unit-tested on its own.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "config.h"
#include "explain.h"

namespace sd {

// Everything a record says, already gathered from the kernel and the tables.
// Strings are views, "" when unknown: their lengths are known where they
// are made, and a record need not measure them again. (Never null views: a
// record of all zeros is cleared with `rep stos`, dearer than plain stores.)
struct RecordData {
  int64_t wall_ns = 0;                // CLOCK_REALTIME
  long pid = 0, tid = 0;
  std::string_view prog = "";
  Level level = Level::error;
  std::string_view call = "";
  int fd = -1;
  std::string_view kind = "";         // tcp4, unix-stream, ...
  std::string_view local = "";        // formatted addresses
  std::string_view peer = "";
  std::string_view host = "";         // the name given to getaddrinfo, if any
  long ret = -1;
  CodeKind code_kind = CodeKind::errno_code;
  int code = 0;                       // 0: the call succeeded (trace records)
  bool notice = false;                // a notice before the call (injected delay, short): no result yet
  std::string_view code_name = "";
  std::string_view message = "";
  // The table's texts: their placeholders are filled as the record is
  // written, in the record's own format (no copy made beforehand).
  const char* explanation = "";
  const char* advice = "";
  std::string_view via = "";          // how the failure surfaced when not a -1 return
  bool injected = false;
  std::string_view rule = "";         // the injection rule, in normal form
  int retries = 0;
  bool retrying = false;              // this record announces a retry
  uint64_t waited_ns = 0;             // time the retry waited for readiness
  std::string_view note = "";
  bool have_history = false;          // the connection's history is known
  bool inherited = false;             // learned on first use: its history starts with this process
  uint64_t sent = 0, received = 0;
  uint64_t age_ns = 0;
  uint64_t peer_gone_ago_ns = 0;      // the peer was seen gone (EOF/reset) this long ago; 0: not seen
  bool clipped = false;               // values from outside were clipped to fit a JSON line
};

// A fixed buffer that never allocates: records are written from hooks that
// may run in signal handlers. Output beyond the capacity is cut, marked "…".
class LineBuffer {
 public:
  static constexpr std::size_t kCapacity = 4096;
  // Inline: a short literal's bytes are then copied without a call.
  __attribute__((always_inline)) void append(std::string_view s) {
    if (s.size() <= kCapacity - len_) {
      std::memcpy(buf_ + len_, s.data(), s.size());
      len_ += s.size();
    } else {
      append_cut(s);
    }
  }
  __attribute__((always_inline)) void append_char(char c) {
    if (len_ < kCapacity) buf_[len_++] = c;
    else truncated_ = true;
  }
  // Strings, single characters and integers (in decimal, as fmt's "{}"),
  // one after the other: the pieces of a record, without a format string to
  // interpret. Inline, so that a literal's length is known at compile time.
  template <class... Parts>
  __attribute__((always_inline)) void put(const Parts&... parts) {
    put_pieces(piece(parts)...);
  }
  // Quoted and escaped. Inline for the empty strings most records have
  // (no local address, host, rule...).
  void append_json_string(std::string_view s) {
    if (s.empty()) {
      append("\"\"");
      return;
    }
    append_char('"');
    append_json_escaped(s);
    append_char('"');
  }
  void append_json_escaped(std::string_view s);  // escaped, without quotes
  // A value from outside (argv[0], a path, a name) in a text line, with
  // backslash, control characters and bytes that are not UTF-8 as C escapes
  // (\\, \n, \x1b): the line stays one line, and a terminal shows it inert.
  void append_text_escaped(std::string_view s);
  // The same, a backslash kept as it is: for a message that may already hold
  // escapes of its own (one line, inert on a terminal, not meant to decode).
  void append_inert(std::string_view s);
  // fmt into the remaining space, for what put() does not write (floats,
  // padding). format_to_n on a char* never allocates. Formats are compiled
  // (FMT_COMPILE): parsing a format string at run time costs more than the
  // formatting. Sized first, then written straight: format_to_n's truncating
  // iterator goes a character at a time.
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
  // Nothing more fits: what was written may be cut, or leaves no room for '\n'.
  bool full() const { return truncated_ || len_ == kCapacity; }
  void clear() { len_ = 0; truncated_ = false; }
  void finish_line();  // ends with '\n', even when cut

 private:
  // append_json_escaped and append_text_escaped (record.cpp): E is the
  // format's escape set.
  template <int E>
  void append_escaped(std::string_view s);
  template <int E>
  __attribute__((noinline)) void append_escaped_runs(std::string_view s);

  // The longest decimal integer: a sign and the 20 digits of UINT64_MAX.
  static constexpr std::size_t kMaxDecimal = 21;

  template <class Int>
  using if_integer = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, char> &&
                                      !std::is_same_v<Int, bool>, int>;

  // The pieces put() takes: strings as views (a literal's length is then a
  // constant), characters, integers. A string literal must not become a bool.
  static std::string_view piece(std::string_view s) { return s; }
  static std::string_view piece(const char* s) { return s; }
  static char piece(char c) { return c; }
  static bool piece(bool) = delete;  // "true"/"false" are written as strings
  template <class Int, if_integer<Int> = 0>
  static Int piece(Int v) {
    return v;
  }

  static constexpr std::size_t most_size(std::string_view s) { return s.size(); }
  static constexpr std::size_t most_size(char) { return 1; }
  template <class Int, if_integer<Int> = 0>
  static constexpr std::size_t most_size(Int) {
    return kMaxDecimal;
  }

  // One room check for all the pieces, then a local cursor: with len_
  // updated per piece, every store through char* made the compiler reload
  // it. Near the end of the buffer, piece by piece, cut where it is full.
  template <class... Pieces>
  __attribute__((always_inline)) void put_pieces(const Pieces&... pieces) {
    if ((most_size(pieces) + ...) > kCapacity - len_) {
      (put_cut(pieces), ...);
      return;
    }
    char* p = buf_ + len_;
    ((p = write(p, pieces)), ...);
    len_ = static_cast<std::size_t>(p - buf_);
  }

  __attribute__((always_inline)) static char* write(char* p, std::string_view s) {
    // A record's names and addresses are short: two overlapping moves copy
    // them, where a call to memcpy would cost more than the copy itself.
    std::size_t n = s.size();
    if (n >= 8 && n <= 16) {
      copy_overlapping<8>(p, s.data(), n);
    } else if (n >= 4 && n < 8) {
      copy_overlapping<4>(p, s.data(), n);
    } else {
      std::memcpy(p, s.data(), n);
    }
    return p + n;
  }
  // The first and the last `kWord` bytes of `n` (kWord <= n <= 2 * kWord).
  template <std::size_t kWord>
  __attribute__((always_inline)) static void copy_overlapping(char* to, const char* from, std::size_t n) {
    char head[kWord], tail[kWord];
    std::memcpy(head, from, kWord);
    std::memcpy(tail, from + n - kWord, kWord);
    std::memcpy(to, head, kWord);
    std::memcpy(to + n - kWord, tail, kWord);
  }
  __attribute__((always_inline)) static char* write(char* p, char c) {
    *p = c;
    return p + 1;
  }
  template <class Int, if_integer<Int> = 0>
  __attribute__((always_inline)) static char* write(char* p, Int v) {
    // Most numbers in a record are one digit (fds, byte counts of 0, the
    // -1 of a failed call): stores, without a call. (Negative values are
    // large as unsigned.)
    if (static_cast<std::make_unsigned_t<Int>>(v) <= 9) {
      *p = static_cast<char>('0' + v);
      return p + 1;
    }
    // The magnitude as unsigned: -v overflows for the most negative value.
    auto magnitude = static_cast<uint64_t>(v);
    if constexpr (std::is_signed_v<Int>) {
      if (v < 0 && v > -10) {
        p[0] = '-';
        p[1] = static_cast<char>('0' - v);
        return p + 2;
      }
      if (v < 0) return write_decimal(p, true, 0 - magnitude);
    }
    return write_decimal(p, false, magnitude);
  }
  static char* write_decimal(char* p, bool negative, uint64_t magnitude);

  void put_cut(std::string_view s) { append(s); }
  void put_cut(char c) { append_char(c); }
  template <class Int, if_integer<Int> = 0>
  void put_cut(Int v) {
    char text[kMaxDecimal];
    append({text, static_cast<std::size_t>(write(text, v) - text)});
  }

  void append_cut(std::string_view s);  // what fits of `s`; marks the cut

  char buf_[kCapacity];
  std::size_t len_ = 0;
  bool truncated_ = false;
};

// "127.0.0.1:80", "[::1]:443", "/run/app.sock", "@abstract", "unnamed".
// Writes at most `cap` bytes including the NUL. Returns `out`.
char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap);

// The date and time to the second of the last time stamp written: the
// calendar arithmetic is most of a time stamp's cost.
struct TimeCache {
  int64_t second = INT64_MIN;  // the second `text` shows; INT64_MIN: none yet
  char text[20];               // "2026-11-27T23:59:01."
};

// "2026-11-27T23:59:01.123456Z" (UTC, computed without libc's time zone lock).
void format_time(int64_t wall_ns, TimeCache& cache, LineBuffer& out);
void format_time(int64_t wall_ns, LineBuffer& out);  // for a single stamp

// "850 us", "1.2 ms", "3.4 s", "2 min 5 s".
void format_duration(uint64_t ns, LineBuffer& out);

// Fills the placeholders {peer} {local} {host} {fd} {call} {sent} {received}
// {age}. In JSON the values filled in are escaped; the template's own text is
// copied as it is (the table's texts need no escape: explain.cpp checks).
void fill_template(const char* text, const RecordData& r, Format format, LineBuffer& out);

// A number in decimal, formatted again only when it changes. Keyed by the
// value, so it is never stale: a forked child's new pid is formatted anew.
class DecimalCache {
 public:
  std::string_view text(long v);

 private:
  bool known_ = false;
  long value_ = 0;
  char text_[24];
  uint8_t size_ = 0;
};

// A template filled for the last record (explanation or advice), reused
// while the values it names are the same: a failure that repeats (a client
// reconnecting to a dead server) gets the same text every time. A template
// naming {age} changes with every record and is never kept.
struct FilledText {
  static constexpr std::size_t kKeptValue = 64;  // longer values: not kept
  static constexpr std::size_t kKeptText = 1024;
  const char* tmpl = nullptr;  // the table's text (static): nullptr, nothing kept
  Format format = Format::text;
  uint8_t names = 0;  // the placeholders the template names, a bit each
  int fd = 0;
  const char* call = nullptr;
  uint64_t sent = 0, received = 0;
  uint8_t peer_len = 0, local_len = 0, host_len = 0;
  char peer[kKeptValue], local[kKeptValue], host[kKeptValue];
  uint16_t len = 0;
  char text[kKeptText];
};

// What a writer of many records (one per thread) keeps from one record to
// the next: its records come in bursts, within a second, from one thread.
struct RecordCache {
  TimeCache time;
  DecimalCache pid, tid;
  FilledText explanation, advice;
};

// fill_template through `kept`: the same text as fill_template, copied from
// the last record's when its template and the values it names are the same.
void fill_template_kept(const char* text, const RecordData& r, Format format, FilledText& kept, LineBuffer& out);

// "PROG[PID]" in a text line, the program's name escaped as in a record.
void put_prog_pid(std::string_view prog, long pid, LineBuffer& out);
// "sockdiag summary PROG[PID]   ": how each text line of the summary starts.
void put_summary_start(std::string_view prog, long pid, LineBuffer& out);

// One complete line (ending in '\n') in the configured format.
void format_record(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out);

}  // namespace sd
