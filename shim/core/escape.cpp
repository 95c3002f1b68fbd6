// Escaping values from outside (see escape.h): the scan for characters that
// need an escape, UTF-8 checking, and the quoting of a value in a message.
#include "escape.h"

#include <cstring>

namespace sd {
namespace {

// Whether one of the 16 characters at `p` may need an escape. Compared 16 at
// a time with the compiler's vector extension (SSE2 on x86-64, NEON on
// arm64): values rarely need an escape.
constexpr std::size_t kEscapeScan = 16;
// Only the first `n` lanes count (n <= 16): what lies past them is not the
// value. Signed lanes: one compare finds both the controls below 0x20 and
// every byte from 0x80 up (SSE2 has no unsigned byte compare).
alignas(16) constexpr uint8_t kFirstLanes[2 * 16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
template <int E>
bool window_needs_escape(const char* p, std::size_t n = kEscapeScan) {
  using Lanes = int8_t __attribute__((vector_size(kEscapeScan)));
  Lanes v, keep;
  std::memcpy(&v, p, sizeof(v));
  auto found = (v < 0x20) | (v == 0x7f);
  if constexpr (E != Escapes::inert) found |= (v == '\\');
  if constexpr (E == Escapes::json) found |= (v == '"');
  std::memcpy(&keep, kFirstLanes + kEscapeScan - n, sizeof(keep));  // n lanes of all ones
  found &= keep;
  uint64_t halves[2];
  static_assert(sizeof(found) == sizeof(halves), "16 one-byte lanes");
  std::memcpy(halves, &found, sizeof(halves));
  return (halves[0] | halves[1]) != 0;
}

template <int E>
bool may_need_escape(unsigned char c) {
  return c < 0x20 || c >= 0x7f || (E != Escapes::inert && c == '\\') || (E == Escapes::json && c == '"');
}

// The index of the first character at or after `from` that may need an
// escape, or s.size(): whole windows of 16, the last one overlapping the one
// before (or masked to the string, for one shorter than a window); character by
// character only inside a window that has one.
template <int E>
std::size_t first_escape(std::string_view s, std::size_t from) {
  std::size_t i = from;
  if (s.size() - i >= kEscapeScan) {
    for (; s.size() - i > kEscapeScan; i += kEscapeScan)
      if (window_needs_escape<E>(s.data() + i)) break;
    if (s.size() - i <= kEscapeScan) {
      i = s.size() - kEscapeScan;
      if (!window_needs_escape<E>(s.data() + i)) return s.size();
    }
  } else if (i < s.size()) {
    char window[kEscapeScan];
    std::memcpy(window, s.data() + i, s.size() - i);
    if (!window_needs_escape<E>(window, s.size() - i)) return s.size();
  }
  for (; i < s.size(); ++i)
    if (may_need_escape<E>(static_cast<unsigned char>(s[i]))) return i;
  return s.size();
}

// The length of the well-formed UTF-8 sequence starting at s[i] (2 to 4
// bytes), or 0: a stray continuation byte, an overlong form, a surrogate, a
// code point past U+10FFFF, or a sequence cut short (Unicode's table 3-7).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
    if (i + k >= s.size()) return false;
    unsigned b = static_cast<unsigned char>(s[i + k]);
    return b >= lo && b <= hi;
  };
  auto tail = [&](std::size_t from, std::size_t n) {
    for (std::size_t k = from; k < n; ++k)
      if (!in(k, 0x80, 0xbf)) return std::size_t{0};
    return n;
  };
  unsigned c = static_cast<unsigned char>(s[i]);
  if (c >= 0xc2 && c <= 0xdf) return tail(1, 2);
  if (c == 0xe0) return in(1, 0xa0, 0xbf) ? tail(2, 3) : 0;
  if (c == 0xed) return in(1, 0x80, 0x9f) ? tail(2, 3) : 0;
  if (c >= 0xe1 && c <= 0xef) return tail(1, 3);
  if (c == 0xf0) return in(1, 0x90, 0xbf) ? tail(2, 4) : 0;
  if (c >= 0xf1 && c <= 0xf3) return tail(1, 4);
  if (c == 0xf4) return in(1, 0x80, 0x8f) ? tail(2, 4) : 0;
  return 0;
}

// The escape for the character at s[i] (known to be one first_escape<E>
// stops at) appended to `out`; returns how many bytes of `s` it stood for.
template <int E>
std::size_t put_escape(std::string_view s, std::size_t i, LineBuffer& out) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c >= 0x80) {
    std::size_t n = utf8_length(s, i);
    // A C1 control (U+0080..U+009F, lead byte 0xc2) is text to JSON, but some
    // terminals act on it.
    bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
    if (n != 0 && !(E != Escapes::json && c1)) {
      out.append(s.substr(i, n));
      return n;
    }
    // JSON has no escape for a byte: the replacement character stands for it.
    if (E == Escapes::json) {
      out.append("\\ufffd");
      return 1;
    }
  }
  switch (c) {
    case '"': out.append("\\\""); return 1;
    case '\\': out.append("\\\\"); return 1;
    case '\n': out.append("\\n"); return 1;
    case '\r': out.append("\\r"); return 1;
    case '\t': out.append("\\t"); return 1;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  char e[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
  if (E == Escapes::json) {
    out.append({e, 6});
  } else {
    e[2] = '\\';
    e[3] = 'x';
    out.append({e + 2, 4});
  }
  return 1;
}


}  // namespace

// The length of `s` without a UTF-8 sequence cut short at its end (a cut
// record must stay UTF-8: a JSON reader rejects the whole line otherwise).
std::size_t whole_utf8_prefix(std::string_view s) {
  std::size_t lead = s.size();
  while (lead > 0 && s.size() - lead < 3 && (static_cast<unsigned char>(s[lead - 1]) & 0xc0) == 0x80) --lead;
  if (lead == 0) return s.size();
  unsigned c = static_cast<unsigned char>(s[lead - 1]);
  std::size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return want > s.size() - (lead - 1) ? lead - 1 : s.size();
}

template <int E>
void LineBuffer::append_escaped(std::string_view s) {
  // Most values (addresses, names) are short: copied with two moves, then
  // checked where they landed, in one window. The rest is out of line, so
  // that this path saves no registers.
  if (s.size() <= kEscapeScan && kCapacity - len_ >= kEscapeScan) {
    char* p = buf_ + len_;
    write(p, s);
    if (!window_needs_escape<E>(p, s.size())) {
      len_ += s.size();
      return;
    }
  }
  append_escaped_runs<E>(s);
}

template <int E>
void LineBuffer::append_escaped_runs(std::string_view s) {
  // Runs of characters that need no escape are copied whole.
  for (std::size_t run = 0;;) {
    std::size_t i = first_escape<E>(s, run);
    append(s.substr(run, i - run));
    if (i == s.size()) return;
    run = i + put_escape<E>(s, i, *this);
  }
}

template void LineBuffer::append_escaped<Escapes::json>(std::string_view);
template void LineBuffer::append_escaped<Escapes::text>(std::string_view);
template void LineBuffer::append_escaped<Escapes::inert>(std::string_view);

namespace {
std::string escaped(std::string_view s, void (LineBuffer::*append)(std::string_view)) {
  LineBuffer b;
  (b.*append)(s);
  std::string out(b.view());
  if (b.truncated()) out += "…";  // longer than a record line
  return out;
}
}  // namespace

std::string text_escaped(std::string_view s) { return escaped(s, &LineBuffer::append_text_escaped); }

std::string inert_escaped(std::string_view s) { return escaped(s, &LineBuffer::append_inert); }

std::string quoted(std::string_view v) {
  constexpr std::size_t kShown = 120;
  LineBuffer b;
  b.append_inert(v.substr(0, kShown));
  return "'" + std::string(b.view()) + (v.size() > kShown ? "...'" : "'");
}

}  // namespace sd
