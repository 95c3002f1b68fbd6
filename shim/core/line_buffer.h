// A line as it is built: a fixed buffer that never allocates, and the pieces
// put into it (strings, characters, integers, escaped values). Every record,
// summary line and notice is built in one, and leaves through the log.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace sd {

// What a value from outside the library (argv[0], a socket path, a host
// name, a rule's text) may not carry into a record as it is, by format:
// - JSON: '"', '\\', control characters (below 0x20, and DEL), and bytes that
//   are not well-formed UTF-8 (a line must decode as UTF-8 to parse).
// - text: '\\', control characters, C1 controls and ill-formed UTF-8: a
//   newline would split the record in two, and a terminal acts on escapes.
// - inert: as text, but a backslash stays as it is (for messages, which may
//   hold escapes made already; one line and an inert terminal is the point).
// Every byte from 0x7f up goes to the careful path, which checks UTF-8.
namespace Escapes {
enum : int { json, text, inert };
}

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
  // Escaped, without quotes. (The wrappers are inline so that a record calls
  // the escaping itself, as it did when both were in one file.)
  void append_json_escaped(std::string_view s) { append_escaped<Escapes::json>(s); }
  // A value from outside (argv[0], a path, a name) in a text line, with
  // backslash, control characters and bytes that are not UTF-8 as C escapes
  // (\\, \n, \x1b): the line stays one line, and a terminal shows it inert.
  void append_text_escaped(std::string_view s) { append_escaped<Escapes::text>(s); }
  // The same, a backslash kept as it is: for a message that may already hold
  // escapes of its own (one line, inert on a terminal, not meant to decode).
  void append_inert(std::string_view s) { append_escaped<Escapes::inert>(s); }
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
  // The escaping (escape.cpp, instantiated there for each set): E is the
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

// The length of `s` without a UTF-8 sequence cut short at its end (a cut
// line must stay UTF-8: a JSON reader rejects the whole line otherwise).
// In escape.cpp, with the rest of the UTF-8 checking.
std::size_t whole_utf8_prefix(std::string_view s);

// Inline, as they were when a record's formatting shared their file: a
// record ends with finish_line, and the compiler's choices there are part of
// a record's cost.
inline void LineBuffer::append_cut(std::string_view s) {
  std::size_t room = kCapacity - len_;
  std::memcpy(buf_ + len_, s.data(), room < s.size() ? room : s.size());
  len_ = kCapacity;
  truncated_ = true;
}

inline void LineBuffer::finish_line() {
  static constexpr std::string_view kCut = "…";
  if (full()) {
    // Keep room for the mark and the newline; a cut JSON record still ends
    // the line, so that the next record starts on its own line.
    std::size_t keep = kCapacity - kCut.size() - 1;
    if (len_ > keep) len_ = keep;
    len_ = whole_utf8_prefix({buf_, len_});
    std::memcpy(buf_ + len_, kCut.data(), kCut.size());
    len_ += kCut.size();
  }
  buf_[len_++] = '\n';
}

// Decimal without leading zeros; returns the end. fmt writes the digits
// straight into a char*; in 32 bits, as dividing by 100 is cheaper there.
inline char* put_decimal(char* p, uint32_t v) { return fmt::format_to(p, FMT_COMPILE("{}"), v); }

}  // namespace sd
