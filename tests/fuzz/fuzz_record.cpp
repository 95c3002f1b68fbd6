// libFuzzer target for the escaping of values that come from outside the
// library into records (sd::LineBuffer, sd::format_record; shim/core/record.cpp):
// argv[0], unix socket paths, host names and rule texts may hold any byte.
// The input is the value. What must hold:
// - text: the escaped value has no control character (below 0x20, DEL, C1),
//   is well-formed UTF-8, and its C escapes (\\ \n \r \t \xHH) undo to the
//   input exactly;
// - inert (messages): UTF-8 with no control character;
// - JSON: the escaped value is the body of a valid JSON string (RFC 8259),
//   well-formed UTF-8, and decodes to the input with every byte that is not
//   part of a well-formed UTF-8 sequence replaced by U+FFFD;
// - a record holding the value in every field it can come from is one line,
//   ending in '\n', in both formats, at any length: a text record may be cut
//   (marked), a JSON record never is (its values are clipped instead).
// The UTF-8 decoder here is written apart from the library's, on purpose.
// Build and run: tools/fuzz.sh (or tests/fuzz/CMakeLists.txt, SOCKDIAG_FUZZ=ON).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "record.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_record: %s: ", what);
  for (unsigned char c : detail) std::fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

// The code point at s[i] and its length, or length 0 when the bytes there
// are not a well-formed sequence: decoded by the arithmetic definition
// (shortest form, no surrogates, at most U+10FFFF).
struct Decoded {
  uint32_t cp = 0;
  std::size_t len = 0;
};
Decoded decode_utf8(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1};
  std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (len == 0 || b >= 0xf8 || i + len > s.size()) return {};
  uint32_t cp = b & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return {};
    cp = cp << 6 | (c & 0x3f);
  }
  static constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kShortest[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return {};
  return {cp, len};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool well_formed(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    Decoded d = decode_utf8(s, i);
    if (d.len == 0) return false;
    i += d.len;
  }
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void check_text(std::string_view value, std::string_view escaped) {
  if (!well_formed(escaped)) broken("text escape is not UTF-8", escaped);
  std::string undone;
  for (std::size_t i = 0; i < escaped.size();) {
    Decoded d = decode_utf8(escaped, i);
    if (d.cp < 0x20 || d.cp == 0x7f || (d.cp >= 0x80 && d.cp < 0xa0)) broken("control character in text", escaped);
    if (escaped[i] != '\\') {
      undone.append(escaped.substr(i, d.len));
      i += d.len;
      continue;
    }
    if (i + 1 >= escaped.size()) broken("text escape cut short", escaped);
    char e = escaped[i + 1];
    if (e == '\\' || e == 'n' || e == 'r' || e == 't') {
      undone += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : '\\';
      i += 2;
    } else if (e == 'x' && i + 3 < escaped.size() && hex(escaped[i + 2]) >= 0 && hex(escaped[i + 3]) >= 0) {
      undone += static_cast<char>(hex(escaped[i + 2]) * 16 + hex(escaped[i + 3]));
      i += 4;
    } else {
      broken("unknown text escape", escaped);
    }
  }
  if (undone != value) broken("text escape does not undo to the value", escaped);
}

// A message made inert: UTF-8 with no control character; not meant to undo
// (its backslashes are the message's own).
void check_inert(std::string_view escaped) {
  if (!well_formed(escaped)) broken("inert message is not UTF-8", escaped);
  for (std::size_t i = 0; i < escaped.size();) {
    Decoded d = decode_utf8(escaped, i);
    if (d.cp < 0x20 || d.cp == 0x7f || (d.cp >= 0x80 && d.cp < 0xa0)) broken("control character in a message", escaped);
    i += d.len;
  }
}

void check_json(std::string_view value, std::string_view escaped) {
  if (!well_formed(escaped)) broken("JSON string is not UTF-8", escaped);
  std::string decoded;
  for (std::size_t i = 0; i < escaped.size();) {
    auto c = static_cast<unsigned char>(escaped[i]);
    if (c < 0x20 || c == '"') broken("raw control character or quote in a JSON string", escaped);
    if (c != '\\') {
      decoded += static_cast<char>(c);
      ++i;
      continue;
    }
    if (i + 1 >= escaped.size()) broken("JSON escape cut short", escaped);
    char e = escaped[i + 1];
    static constexpr std::string_view kSimple = "\"\\/bfnrt", kMeans = "\"\\/\b\f\n\r\t";
    if (std::size_t k = kSimple.find(e); k != std::string_view::npos) {
      decoded += kMeans[k];
      i += 2;
      continue;
    }
    if (e != 'u' || i + 6 > escaped.size()) broken("bad JSON escape", escaped);
    uint32_t cp = 0;
    for (std::size_t k = 2; k < 6; ++k) {
      int h = hex(escaped[i + k]);
      if (h < 0) broken("bad \\u escape", escaped);
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    if (cp >= 0xd800 && cp <= 0xdfff) broken("lone surrogate escape", escaped);
    append_utf8(decoded, cp);
    i += 6;
  }
  std::string wanted;
  for (std::size_t i = 0; i < value.size();) {
    Decoded d = decode_utf8(value, i);
    if (d.len == 0) {
      append_utf8(wanted, 0xfffd);
      ++i;
    } else {
      wanted.append(value.substr(i, d.len));
      i += d.len;
    }
  }
  if (decoded != wanted) broken("JSON string does not decode to the value", escaped);
}

void check_one_line(std::string_view line, const char* format) {
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1)
    broken(format, line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view value(reinterpret_cast<const char*>(data), size);
  sd::LineBuffer b;
  if (size < sd::LineBuffer::kCapacity / 8) {  // the longest escape is 6 bytes: no cut
    b.append_text_escaped(value);
    check_text(value, b.view());
    b.clear();
    b.append_json_escaped(value);
    check_json(value, b.view());
    b.clear();
    b.append_inert(value);
    check_inert(b.view());
  }

  sd::RecordData r;
  r.prog = value;
  r.call = "connect";
  r.fd = 3;
  r.kind = "unix-stream";
  r.local = value;
  r.peer = value;
  r.host = value;
  r.code = 111;
  r.code_name = "ECONNREFUSED";
  r.message = "Connection refused";
  r.explanation = "Nothing listens on {peer} (from {local}, named {host}).";
  r.advice = "Check {peer}.";
  r.injected = true;
  r.rule = value;
  sd::RecordCache cache;
  sd::format_record(r, sd::Format::text, cache, b);
  check_one_line(b.view(), "text record is not one line");
  if (!well_formed(b.view())) broken("text record is not UTF-8", b.view());
  sd::format_record(r, sd::Format::json, cache, b);
  check_one_line(b.view(), "JSON record is not one line");
  if (b.truncated()) broken("JSON record was cut (it would not parse)", b.view());
  if (!well_formed(b.view())) broken("JSON record is not UTF-8", b.view());
  return 0;
}
