// Formatting of records (see record.h).
#include "record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace sd {
namespace {

// Whether one of the 16 characters at `p` needs an escape in JSON: a control
// character (below 0x20), '"' or '\\'. Compared 16 at a time with the
// compiler's vector extension (SSE2 on x86-64, NEON on arm64): explanations
// are long and rarely need an escape.
constexpr std::size_t kEscapeScan = 16;
bool needs_json_escape(const char* p) {
  using Bytes = uint8_t __attribute__((vector_size(kEscapeScan)));
  Bytes v;
  std::memcpy(&v, p, sizeof(v));
  auto found = (v < 0x20) | (v == '"') | (v == '\\');
  uint64_t halves[2];
  static_assert(sizeof(found) == sizeof(halves), "16 one-byte lanes");
  std::memcpy(halves, &found, sizeof(halves));
  return (halves[0] | halves[1]) != 0;
}

bool json_escaped(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// The index of the first character at or after `from` that needs an escape,
// or s.size(): whole windows of 16, the last one overlapping the one before
// (or padded, for a string shorter than a window); character by character
// only inside a window that has one.
std::size_t first_json_escape(std::string_view s, std::size_t from) {
  std::size_t i = from;
  if (s.size() - i >= kEscapeScan) {
    for (; s.size() - i > kEscapeScan; i += kEscapeScan)
      if (needs_json_escape(s.data() + i)) break;
    if (s.size() - i <= kEscapeScan) {
      i = s.size() - kEscapeScan;
      if (!needs_json_escape(s.data() + i)) return s.size();
    }
  } else if (i < s.size()) {
    char window[kEscapeScan];
    std::memset(window, ' ', sizeof(window));
    std::memcpy(window, s.data() + i, s.size() - i);
    if (!needs_json_escape(window)) return s.size();
  }
  for (; i < s.size(); ++i)
    if (json_escaped(static_cast<unsigned char>(s[i]))) return i;
  return s.size();
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

void LineBuffer::append_json_escaped(std::string_view s) {
  // Runs of characters that need no escape are copied whole.
  for (std::size_t run = 0;;) {
    std::size_t i = first_json_escape(s, run);
    append(s.substr(run, i - run));
    if (i == s.size()) return;
    run = i + 1;
    switch (auto c = static_cast<unsigned char>(s[i])) {
      case '"': append("\\\""); break;
      case '\\': append("\\\\"); break;
      case '\n': append("\\n"); break;
      case '\r': append("\\r"); break;
      case '\t': append("\\t"); break;
      default: appendf(FMT_COMPILE("\\u{:04x}"), static_cast<unsigned>(c));
    }
  }
}

void LineBuffer::finish_line() {
  static constexpr std::string_view kCut = "…";
  if (truncated_ || len_ == kCapacity) {
    // Keep room for the mark and the newline; a cut JSON record still ends
    // the line, so that the next record starts on its own line.
    std::size_t keep = kCapacity - kCut.size() - 1;
    if (len_ > keep) len_ = keep;
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

void fill_template(const char* text, const RecordData& r, Format format, LineBuffer& out) {
  auto value = [&](std::string_view v, std::string_view fallback) {
    if (v.empty()) v = fallback;
    if (format == Format::json) out.append_json_escaped(v);
    else out.append(v);
  };
  for (const char* p = text;;) {
    // One pass for both the next brace and the end.
    const char* brace = strchrnul(p, '{');
    out.append({p, static_cast<std::size_t>(brace - p)});
    if (*brace == '\0') return;
    std::string_view key = placeholder_at(brace);
    if (key == "peer") value(r.peer, "the peer");
    else if (key == "local") value(r.local, "the local address");
    else if (key == "host") value(r.host, "the name");
    else if (key == "fd") out.put(r.fd);
    else if (key == "call") value(r.call, "");
    else if (key == "sent") out.put(r.sent);
    else if (key == "received") out.put(r.received);
    else if (key == "age") format_duration(r.age_ns, out);
    else {
      out.append_char('{');  // not a placeholder: keep the brace as written
      p = brace + 1;
      continue;
    }
    p = brace + key.size() + 2;
  }
}

namespace {

// An injected failure did not happen for the row's reasons: the record says
// so first, then what such a failure means when it is real.
void put_explanation(const RecordData& r, Format format, LineBuffer& out) {
  if (r.injected && r.domain != Domain::event) out.put("Injected by a sockdiag rule. When real: ");
  fill_template(r.explanation, r, format, out);
}

void text_record(const RecordData& r, RecordCache& cache, LineBuffer& out) {
  out.put("sockdiag ");
  format_time(r.wall_ns, cache.time, out);
  out.put(' ', r.prog, '[', cache.pid.text(r.pid), '/', cache.tid.text(r.tid), "] ", level_name(r.level), ' ', r.call);
  if (r.fd >= 0) out.put(" fd=", r.fd);
  if (!r.kind.empty()) out.put(' ', r.kind);
  if (!r.local.empty() || !r.peer.empty())
    out.put(' ', r.local.empty() ? "?" : r.local, " -> ", r.peer.empty() ? "?" : r.peer);
  if (!r.host.empty()) out.put(" host=", r.host);
  if (r.code == 0) {
    out.put(" = ", r.ret);
  } else if (r.notice) {
    out.put(' ', r.code_name);
  } else if (r.domain == Domain::event) {
    out.put(" = ", r.ret, ' ', r.code_name);
  } else {
    out.put(" = ", r.ret, ' ', r.code_name, '(', r.code, ") \"", r.message, '"');
  }
  if (!r.via.empty()) out.put(" via ", r.via);
  if (r.injected) out.put(" [injected by '", r.rule, "']");
  if (r.retrying) {
    out.put(" [retry ", r.retries, ", waited ");
    format_duration(r.waited_ns, out);
    out.put(']');
  } else if (r.retries) {
    out.put(" [after ", r.retries, " retries]");
  }
  if (*r.explanation) {
    out.put(": ");
    put_explanation(r, Format::text, out);
  }
  if (*r.advice) {
    out.put(" Try: ");
    fill_template(r.advice, r, Format::text, out);
  }
  if (!r.note.empty()) out.put(" Note: ", r.note);
  if (r.have_history) {
    out.put(" [connection: sent ", r.sent, " B, received ", r.received, " B, age ");
    format_duration(r.age_ns, out);
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
  out.put(",\"ret\":", r.ret, ",\"errno\":", r.domain == Domain::errno_code ? r.code : 0, ",\"code\":");
  out.append_json_string(r.code_name);
  out.put(",\"message\":");
  out.append_json_string(r.message);
  out.put(",\"explanation\":\"");
  if (*r.explanation) put_explanation(r, Format::json, out);
  out.put("\",\"advice\":\"");
  fill_template(r.advice, r, Format::json, out);
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
  }
  if (r.peer_gone_ago_ns) {
    out.put(",\"peer_gone_ms_ago\":");
    append_ms(out, r.peer_gone_ago_ns);
  }
  out.put('}');
}

}  // namespace

void format_record(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out) {
  out.clear();
  if (format == Format::json) json_record(r, cache, out);
  else text_record(r, cache, out);
  out.finish_line();
}

}  // namespace sd
