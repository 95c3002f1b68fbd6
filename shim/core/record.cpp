// Formatting of records (see record.h).
#include "record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace sd {
namespace {

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

// Decimal without leading zeros; returns the end. fmt writes the digits
// straight into a char*; in 32 bits, as dividing by 100 is cheaper there.
char* put_decimal(char* p, uint32_t v) { return fmt::format_to(p, FMT_COMPILE("{}"), v); }

}  // namespace

void LineBuffer::append_cut(std::string_view s) {
  std::size_t room = kCapacity - len_;
  std::memcpy(buf_ + len_, s.data(), room < s.size() ? room : s.size());
  len_ = kCapacity;
  truncated_ = true;
}

char* LineBuffer::write_decimal(char* p, bool negative, uint64_t magnitude) {
  if (negative) *p++ = '-';
  if (magnitude <= UINT32_MAX) return put_decimal(p, static_cast<uint32_t>(magnitude));
  return fmt::format_to(p, FMT_COMPILE("{}"), magnitude);
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

void LineBuffer::append_json_escaped(std::string_view s) { append_escaped<Escapes::json>(s); }

void LineBuffer::append_text_escaped(std::string_view s) { append_escaped<Escapes::text>(s); }

void LineBuffer::append_inert(std::string_view s) { append_escaped<Escapes::inert>(s); }

void LineBuffer::finish_line() {
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

namespace {

// Addresses are written into a buffer surely big enough, then copied: fmt's
// format_to_n into a small buffer goes a character at a time through a
// truncating iterator. And glibc's inet_ntop goes through sprintf.

// A C string buffer of `cap` bytes (cap > 0): what does not fit is dropped,
// and it always ends with a NUL.
class CStringOut {
 public:
  CStringOut(char* out, std::size_t cap) : p_(out), end_(out + cap - 1) {}
  void add(std::string_view s) {
    std::size_t room = static_cast<std::size_t>(end_ - p_);
    std::size_t n = s.size() < room ? s.size() : room;
    std::memcpy(p_, s.data(), n);
    p_ += n;
    *p_ = '\0';
  }

 private:
  char* p_;
  char* end_;
};

char* put_hex(char* p, unsigned v) {  // as printf's %x: no leading zeros
  static constexpr char kDigits[] = "0123456789abcdef";
  char digits[8];
  int n = 0;
  do {
    digits[n++] = kDigits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

// "0" to "255": an IPv4 byte is a look-up, not three divisions.
struct ByteTexts {
  char digits[256][3];
  unsigned char size[256];
  constexpr ByteTexts() : digits(), size() {
    for (int v = 0; v < 256; ++v) {
      int n = 0;
      if (v >= 100) digits[v][n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) digits[v][n++] = static_cast<char>('0' + v / 10 % 10);
      digits[v][n++] = static_cast<char>('0' + v % 10);
      size[v] = static_cast<unsigned char>(n);
    }
  }
};
constexpr ByteTexts kByteTexts;

// Copies all three bytes (the caller's buffer has room): one fixed-size move.
char* put_byte(char* p, unsigned char v) {
  std::memcpy(p, kByteTexts.digits[v], 3);
  return p + kByteTexts.size[v];
}

char* put_ipv4(char* p, const unsigned char* b) {
  for (int i = 0; i < 4; ++i) {
    if (i != 0) *p++ = '.';
    p = put_byte(p, b[i]);
  }
  return p;
}

// The text of glibc's inet_ntop: the longest run of two or more zero groups
// (the first of equal runs) becomes "::"; an IPv4-compatible (::a.b.c.d) or
// IPv4-mapped (::ffff:a.b.c.d) address ends in dotted IPv4.
char* put_ipv6(char* p, const unsigned char* a) {
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = static_cast<unsigned>(a[2 * i] << 8 | a[2 * i + 1]);
  int zeros_at = -1, zeros_len = 0;
  for (int i = 0; i < 8;) {
    int end = i;
    while (end < 8 && words[end] == 0) ++end;
    if (end - i > zeros_len) {
      zeros_at = i;
      zeros_len = end - i;
    }
    i = end == i ? i + 1 : end;
  }
  if (zeros_len < 2) zeros_at = -1;
  for (int i = 0; i < 8; ++i) {
    if (zeros_at >= 0 && i >= zeros_at && i < zeros_at + zeros_len) {
      if (i == zeros_at) *p++ = ':';
      continue;
    }
    if (i != 0) *p++ = ':';
    if (i == 6 && zeros_at == 0 && (zeros_len == 6 || (zeros_len == 5 && words[5] == 0xffff)))
      return put_ipv4(p, a + 12);
    p = put_hex(p, words[i]);
  }
  if (zeros_at >= 0 && zeros_at + zeros_len == 8) *p++ = ':';
  return p;
}

// "00" to "99", for writing two digits at a time.
struct DigitPairs {
  char text[200];
  constexpr DigitPairs() : text() {
    for (int i = 0; i < 100; ++i) {
      text[2 * i] = static_cast<char>('0' + i / 10);
      text[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
  }
};
constexpr DigitPairs kDigitPairs;

// Fixed-width decimal, zero-padded; higher digits are dropped.
void put_digits(char* at, uint32_t v, int width) {
  for (; width >= 2; width -= 2, v /= 100) std::memcpy(at + width - 2, kDigitPairs.text + 2 * (v % 100), 2);
  if (width == 1) at[0] = static_cast<char>('0' + v % 10);
}

// "2026-11-27T23:59:01." for a second since the epoch.
void write_second(int64_t secs, char (&t)[20]) {
  // gmtime_r takes glibc's time zone lock: a child forked while another
  // thread held it would deadlock here. Civil date from days instead
  // (H. Hinnant's days_from_civil inverse).
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) { rem += 86400; --days; }
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  put_digits(t, static_cast<uint32_t>(y), 4);
  t[4] = '-';
  put_digits(t + 5, static_cast<uint32_t>(m), 2);
  t[7] = '-';
  put_digits(t + 8, static_cast<uint32_t>(d), 2);
  t[10] = 'T';
  put_digits(t + 11, static_cast<uint32_t>(rem / 3600), 2);
  t[13] = ':';
  put_digits(t + 14, static_cast<uint32_t>(rem / 60 % 60), 2);
  t[16] = ':';
  put_digits(t + 17, static_cast<uint32_t>(rem % 60), 2);
  t[19] = '.';
}

}  // namespace

char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap) {
  if (cap == 0) return out;
  out[0] = '\0';
  if (!addr || len < sizeof(sa_family_t)) return out;
  CStringOut text(out, cap);
  // Longest inet text: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535".
  char inet[64];
  char* p = inet;
  switch (addr->sa_family) {
    case AF_INET: {
      if (len < sizeof(sockaddr_in)) break;
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      p = put_ipv4(p, reinterpret_cast<const unsigned char*>(&in->sin_addr));
      *p++ = ':';
      p = put_decimal(p, ntohs(in->sin_port));
      text.add({inet, static_cast<std::size_t>(p - inet)});
      break;
    }
    case AF_INET6: {
      if (len < sizeof(sockaddr_in6)) break;
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      *p++ = '[';
      p = put_ipv6(p, in6->sin6_addr.s6_addr);
      *p++ = ']';
      *p++ = ':';
      p = put_decimal(p, ntohs(in6->sin6_port));
      text.add({inet, static_cast<std::size_t>(p - inet)});
      break;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      std::size_t path_len = len - offsetof(sockaddr_un, sun_path);
      if (len <= offsetof(sockaddr_un, sun_path)) {
        text.add("unnamed");
      } else if (un->sun_path[0] == '\0') {
        // Abstract namespace: the name is the bytes after the NUL, not a C string.
        text.add("@");
        text.add({un->sun_path + 1, path_len - 1});
      } else {
        text.add({un->sun_path, strnlen(un->sun_path, path_len)});
      }
      break;
    }
    default:
      text.add("family ");
      p = put_decimal(p, addr->sa_family);
      text.add({inet, static_cast<std::size_t>(p - inet)});
  }
  return out;
}

void format_time(int64_t wall_ns, TimeCache& cache, LineBuffer& out) {
  // Rounded down, also before 1970: the fraction is never negative.
  int64_t secs = wall_ns / 1000000000;
  int64_t ns = wall_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    --secs;
  }
  if (secs != cache.second) {
    write_second(secs, cache.text);
    cache.second = secs;
  }
  char t[27];
  std::memcpy(t, cache.text, sizeof(cache.text));
  put_digits(t + 20, static_cast<uint32_t>(ns / 1000), 6);
  t[26] = 'Z';
  out.append({t, sizeof(t)});
}

void format_time(int64_t wall_ns, LineBuffer& out) {
  TimeCache fresh;
  format_time(wall_ns, fresh, out);
}

namespace {

// A fraction with a fixed count of decimals, formatted once into a buffer
// that holds any this file writes (at most 14 digits before the point: a
// uint64_t count of ns is below 2e13 ms). appendf would format it twice, to
// size it first.
template <class S>
void append_fixed(LineBuffer& out, const S& format, double v) {
  char text[32];
  char* end = fmt::format_to(text, format, v);
  out.append({text, static_cast<std::size_t>(end - text)});
}

// ns as milliseconds with three decimals, rounded to the microsecond: how
// JSON records carry durations. In integers: a float's formatting costs
// several times more.
void append_ms(LineBuffer& out, uint64_t ns) {
  uint64_t us = ns / 1000 + (ns % 1000 >= 500);
  unsigned frac = static_cast<unsigned>(us % 1000);
  out.put(us / 1000, '.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
          static_cast<char>('0' + frac % 10));
}

}  // namespace

std::string_view DecimalCache::text(long v) {
  if (!known_ || v != value_) {
    size_ = static_cast<uint8_t>(fmt::format_to(text_, FMT_COMPILE("{}"), v) - text_);
    value_ = v;
    known_ = true;
  }
  return {text_, size_};
}

void format_duration(uint64_t ns, LineBuffer& out) {
  if (ns < 1000000) {
    out.put(ns / 1000, " us");
  } else if (ns < 1000000000) {
    append_fixed(out, FMT_COMPILE("{:.1f}"), static_cast<double>(ns) / 1e6);
    out.put(" ms");
  } else if (ns < 60ull * 1000000000) {
    append_fixed(out, FMT_COMPILE("{:.1f}"), static_cast<double>(ns) / 1e9);
    out.put(" s");
  } else {
    out.put(ns / 60000000000ull, " min ", ns / 1000000000ull % 60, " s");
  }
}

namespace {

// The name of the placeholder that starts at `brace` ('{'), or "" when there
// is none. A name is at most this long: no need to look further for its '}'
// (which may be far away, or missing, after a brace that is only text).
constexpr std::size_t kLongestPlaceholder = sizeof("received") - 1;

std::string_view placeholder_at(const char* brace) {
  for (std::size_t n = 1; n <= kLongestPlaceholder + 1 && brace[n] != '\0'; ++n) {
    if (brace[n] == '}') return {brace + 1, n - 1};
  }
  return {};
}

}  // namespace

namespace {
// A connection the process inherited is older than anything the library
// saw: its age, and the bytes counted with it, start with this process.
void put_age(const RecordData& r, LineBuffer& out) {
  format_duration(r.age_ns, out);
  if (r.inherited) out.put(" since this process started");
}
}  // namespace

namespace {
enum Placeholder : uint8_t {
  ph_peer = 1, ph_local = 2, ph_host = 4, ph_fd = 8, ph_call = 16, ph_sent = 32, ph_received = 64, ph_age = 128,
};

// The placeholders filled; `names` gets a bit for each.
void fill_named(const char* text, const RecordData& r, Format format, LineBuffer& out, uint8_t* names) {
  auto value = [&](std::string_view v, std::string_view fallback) {
    if (v.empty()) v = fallback;
    if (format == Format::json) out.append_json_escaped(v);
    else out.append_text_escaped(v);
  };
  for (const char* p = text;;) {
    // One pass for both the next brace and the end.
    const char* brace = strchrnul(p, '{');
    out.append({p, static_cast<std::size_t>(brace - p)});
    if (*brace == '\0') return;
    std::string_view key = placeholder_at(brace);
    uint8_t name = 0;
    if (key == "peer") value(r.peer, "the peer"), name = ph_peer;
    else if (key == "local") value(r.local, "the local address"), name = ph_local;
    else if (key == "host") value(r.host, "\"\" (an empty name)"), name = ph_host;
    else if (key == "fd") out.put(r.fd), name = ph_fd;
    else if (key == "call") value(r.call, ""), name = ph_call;
    else if (key == "sent") out.put(r.sent), name = ph_sent;
    else if (key == "received") out.put(r.received), name = ph_received;
    else if (key == "age") put_age(r, out), name = ph_age;
    else {
      out.append_char('{');  // not a placeholder: keep the brace as written
      p = brace + 1;
      continue;
    }
    *names |= name;
    p = brace + key.size() + 2;
  }
}

bool same_value(std::string_view v, const char* kept, uint8_t kept_len) {
  return v.size() == kept_len && std::memcmp(v.data(), kept, kept_len) == 0;
}

// Copies `v` into a kept value; false when it is too long to keep.
bool keep_value(std::string_view v, char* kept, uint8_t* kept_len) {
  if (v.size() > FilledText::kKeptValue) return false;
  std::memcpy(kept, v.data(), v.size());
  *kept_len = static_cast<uint8_t>(v.size());
  return true;
}

bool still_filled(const FilledText& k, const char* text, const RecordData& r, Format format) {
  if (k.tmpl != text || k.format != format) return false;
  return (!(k.names & ph_peer) || same_value(r.peer, k.peer, k.peer_len)) &&
         (!(k.names & ph_local) || same_value(r.local, k.local, k.local_len)) &&
         (!(k.names & ph_host) || same_value(r.host, k.host, k.host_len)) && (!(k.names & ph_fd) || k.fd == r.fd) &&
         (!(k.names & ph_call) || k.call == r.call.data()) && (!(k.names & ph_sent) || k.sent == r.sent) &&
         (!(k.names & ph_received) || k.received == r.received);
}
}  // namespace

void fill_template(const char* text, const RecordData& r, Format format, LineBuffer& out) {
  uint8_t names = 0;
  fill_named(text, r, format, out, &names);
}

void fill_template_kept(const char* text, const RecordData& r, Format format, FilledText& kept, LineBuffer& out) {
  if (still_filled(kept, text, r, format)) {
    out.append({kept.text, kept.len});
    return;
  }
  std::size_t start = out.view().size();
  uint8_t names = 0;
  fill_named(text, r, format, out, &names);
  std::string_view filled = out.view().substr(start);
  kept.tmpl = nullptr;
  if (out.full() || (names & ph_age) || filled.size() > FilledText::kKeptText ||
      !keep_value(r.peer, kept.peer, &kept.peer_len) || !keep_value(r.local, kept.local, &kept.local_len) ||
      !keep_value(r.host, kept.host, &kept.host_len))
    return;
  std::memcpy(kept.text, filled.data(), filled.size());
  kept.len = static_cast<uint16_t>(filled.size());
  kept.format = format;
  kept.names = names;
  kept.fd = r.fd;
  kept.call = r.call.data();
  kept.sent = r.sent;
  kept.received = r.received;
  kept.tmpl = text;
}

namespace {

// An injected failure did not happen for the row's reasons: the record says
// so first, then what such a failure means when it is real.
void put_explanation(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out) {
  if (r.injected && r.code_kind != CodeKind::event) out.put("Injected by a sockdiag rule. When real: ");
  fill_template_kept(r.explanation, r, format, cache.explanation, out);
}

void text_record(const RecordData& r, RecordCache& cache, LineBuffer& out) {
  out.put("sockdiag ");
  format_time(r.wall_ns, cache.time, out);
  out.append_char(' ');
  out.append_text_escaped(r.prog);
  out.put('[', cache.pid.text(r.pid), '/', cache.tid.text(r.tid), "] ", level_name(r.level), ' ', r.call);
  if (r.fd >= 0) out.put(" fd=", r.fd);
  if (!r.kind.empty()) out.put(' ', r.kind);
  if (!r.local.empty() || !r.peer.empty()) {
    out.append_char(' ');
    out.append_text_escaped(r.local.empty() ? "?" : r.local);
    out.put(" -> ");
    out.append_text_escaped(r.peer.empty() ? "?" : r.peer);
  }
  if (!r.host.empty()) {
    out.put(" host=");
    out.append_text_escaped(r.host);
  }
  if (r.code == 0) {
    out.put(" = ", r.ret);
  } else if (r.notice) {
    out.put(' ', r.code_name);
  } else if (r.code_kind == CodeKind::event) {
    out.put(" = ", r.ret, ' ', r.code_name);
  } else {
    out.put(" = ", r.ret, ' ', r.code_name, '(', r.code, ") \"", r.message, '"');
  }
  if (!r.via.empty()) out.put(" via ", r.via);
  if (r.injected) {
    out.put(" [injected by '");
    out.append_text_escaped(r.rule);
    out.put("']");
  }
  if (r.retrying) {
    out.put(" [retry ", r.retries, ", waited ");
    format_duration(r.waited_ns, out);
    out.put(']');
  } else if (r.retries) {
    out.put(" [after ", r.retries, " retries]");
  }
  if (*r.explanation) {
    out.put(": ");
    put_explanation(r, Format::text, cache, out);
  }
  if (*r.advice) {
    out.put(" Try: ");
    fill_template_kept(r.advice, r, Format::text, cache.advice, out);
  }
  if (!r.note.empty()) out.put(" Note: ", r.note);
  if (r.have_history) {
    out.put(" [connection: sent ", r.sent, " B, received ", r.received, " B, age ");
    put_age(r, out);
    if (r.peer_gone_ago_ns) {
      out.put("; peer seen gone ");
      format_duration(r.peer_gone_ago_ns, out);
      out.put(" before");
    }
    out.put(']');
  }
}

void json_record(const RecordData& r, RecordCache& cache, LineBuffer& out) {
  out.put("{\"ts\":\"");
  format_time(r.wall_ns, cache.time, out);
  out.put("\",\"pid\":", cache.pid.text(r.pid), ",\"tid\":", cache.tid.text(r.tid), ",\"prog\":");
  out.append_json_string(r.prog);
  out.put(",\"level\":\"", level_name(r.level), "\",\"call\":\"", r.call, "\",\"fd\":", r.fd, ",\"kind\":");
  out.append_json_string(r.kind);
  out.put(",\"local\":");
  out.append_json_string(r.local);
  out.put(",\"peer\":");
  out.append_json_string(r.peer);
  out.put(",\"host\":");
  out.append_json_string(r.host);
  out.put(",\"ret\":", r.ret, ",\"errno\":", r.code_kind == CodeKind::errno_code ? r.code : 0, ",\"code\":");
  out.append_json_string(r.code_name);
  out.put(",\"message\":");
  out.append_json_string(r.message);
  out.put(",\"explanation\":\"");
  if (*r.explanation) put_explanation(r, Format::json, cache, out);
  out.put("\",\"advice\":\"");
  fill_template_kept(r.advice, r, Format::json, cache.advice, out);
  out.put('"');
  out.put(",\"via\":");
  out.append_json_string(r.via);
  out.put(",\"injected\":", r.injected ? "true" : "false", ",\"rule\":");
  out.append_json_string(r.rule);
  out.put(",\"retries\":", r.retries);
  if (r.retrying) {
    out.put(",\"retrying\":true,\"waited_ms\":");
    append_ms(out, r.waited_ns);
  }
  if (!r.note.empty()) {
    out.put(",\"note\":");
    out.append_json_string(r.note);
  }
  if (r.have_history) {
    out.put(",\"bytes_sent\":", r.sent, ",\"bytes_received\":", r.received, ",\"age_ms\":");
    append_ms(out, r.age_ns);
    if (r.inherited) out.put(",\"inherited\":true");
  }
  if (r.peer_gone_ago_ns) {
    out.put(",\"peer_gone_ms_ago\":");
    append_ms(out, r.peer_gone_ago_ns);
  }
  if (r.clipped) out.put(",\"clipped\":true");
  out.put('}');
}

// How much of a value from outside a JSON record keeps when the whole record
// would not fit: 32 bytes, 192 once escaped, times every place a value can
// appear, leave room for the longest explanation (test_record checks it).
constexpr std::size_t kClippedValue = 32;

std::string_view clip(std::string_view v) {
  return v.size() <= kClippedValue ? v : v.substr(0, whole_utf8_prefix(v.substr(0, kClippedValue)));
}

}  // namespace

void put_prog_pid(std::string_view prog, long pid, LineBuffer& out) {
  out.append_text_escaped(prog);
  out.put('[', pid, ']');
}

void put_summary_start(std::string_view prog, long pid, LineBuffer& out) {
  out.put("sockdiag summary ");
  put_prog_pid(prog, pid, out);
  out.put("   ");
}

void format_record(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out) {
  out.clear();
  if (format == Format::text) {
    text_record(r, cache, out);  // cut at the end, marked "…", if too long
  } else {
    json_record(r, cache, out);
    if (out.full()) {
      // A cut JSON line would not parse. Only values from outside can be
      // that long (argv[0] has no bound, and escapes take up to six bytes a
      // byte): written again with them clipped, and saying so.
      RecordData c = r;
      c.prog = clip(r.prog);
      c.local = clip(r.local);
      c.peer = clip(r.peer);
      c.host = clip(r.host);
      c.rule = clip(r.rule);
      c.clipped = true;
      out.clear();
      json_record(c, cache, out);
    }
  }
  out.finish_line();
}

}  // namespace sd
