// One JSON object per line (see json_line.h). Strict RFC 8259 syntax: a log
// line that does not parse is reported, never half read.
#include "json_line.h"

#include <cstdint>

namespace sd {
namespace {

struct Reader {
  std::string_view s;
  std::size_t i = 0;
  std::string err;

  bool fail(const char* what) {
    if (err.empty()) err = std::string(what) + " at byte " + std::to_string(i + 1);
    return false;
  }
  void blanks() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  }
  bool literal(std::string_view word) {
    if (s.substr(i, word.size()) != word) return fail("expected a value");
    i += word.size();
    return true;
  }
  static void put_utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(uint32_t* v) {
    if (i + 4 > s.size()) return fail("a \\u escape is cut short");
    *v = 0;
    for (int k = 0; k < 4; ++k, ++i) {
      char c = s[i];
      uint32_t d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
      if (d > 15) return fail("a \\u escape has a character that is not hexadecimal");
      *v = *v * 16 + d;
    }
    return true;
  }
  bool string(std::string* out) {
    if (i >= s.size() || s[i] != '"') return fail("expected a string");
    ++i;
    while (i < s.size() && s[i] != '"') {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20) return fail("a control character inside a string");
      if (c != '\\') {
        *out += static_cast<char>(c);
        ++i;
        continue;
      }
      if (++i >= s.size()) break;
      char e = s[i++];
      switch (e) {
        case '"': case '\\': case '/': *out += e; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00 && s.substr(i, 2) == "\\u") {
            i += 2;
            uint32_t lo = 0;
            if (!hex4(&lo)) return false;
            if (lo < 0xdc00 || lo > 0xdfff) return fail("a \\u escape's surrogate pair is broken");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          put_utf8(cp, out);
          break;
        }
        default: --i; return fail("an unknown escape inside a string");
      }
    }
    if (i >= s.size()) return fail("a string is not closed");
    ++i;
    return true;
  }
  bool number(std::string* out) {
    std::size_t start = i;
    if (i < s.size() && s[i] == '-') ++i;
    auto digits = [&] {
      std::size_t from = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      return i > from;
    };
    if (!digits()) return fail("expected a value");
    if (i < s.size() && s[i] == '.' && (++i, !digits())) return fail("a number has no digit after '.'");
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      if (!digits()) return fail("a number's exponent has no digit");
    }
    *out = std::string(s.substr(start, i - start));
    return true;
  }
  // Any value; a nested one only checked (depth bounded: a line is short).
  bool value(JsonMember* m, int depth) {
    blanks();
    if (i >= s.size()) return fail("expected a value");
    char c = s[i];
    if (c == '"') {
      m->type = JsonMember::string;
      return string(&m->text);
    }
    if (c == '{' || c == '[') {
      if (depth > 64) return fail("values nested too deep");
      m->type = JsonMember::nested;
      char close = c == '{' ? '}' : ']';
      ++i;
      blanks();
      if (i < s.size() && s[i] == close) return ++i, true;
      for (;;) {
        JsonMember inner;
        if (c == '{') {
          blanks();
          std::string key;
          if (!string(&key)) return false;
          blanks();
          if (i >= s.size() || s[i] != ':') return fail("expected ':'");
          ++i;
        }
        if (!value(&inner, depth + 1)) return false;
        blanks();
        if (i < s.size() && s[i] == ',') {
          ++i;
          continue;
        }
        if (i < s.size() && s[i] == close) return ++i, true;
        return fail(c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    if (c == 't' || c == 'f') {
      m->type = JsonMember::boolean;
      m->text = c == 't' ? "true" : "false";
      return literal(m->text);
    }
    if (c == 'n') {
      m->type = JsonMember::null;
      return literal("null");
    }
    m->type = JsonMember::number;
    return number(&m->text);
  }
};

}  // namespace

bool read_json_object(std::string_view line, std::vector<JsonMember>* out, std::string* error) {
  Reader r{line, 0, {}};
  out->clear();
  r.blanks();
  if (r.i >= line.size() || line[r.i] != '{') {
    r.fail("expected '{'");
  } else {
    ++r.i;
    r.blanks();
    bool ok = true;
    if (r.i < line.size() && line[r.i] == '}') {
      ++r.i;
    } else {
      for (;;) {
        JsonMember m;
        r.blanks();
        if (!r.string(&m.key)) { ok = false; break; }
        r.blanks();
        if (r.i >= line.size() || line[r.i] != ':') { ok = r.fail("expected ':'"); break; }
        ++r.i;
        if (!r.value(&m, 0)) { ok = false; break; }
        out->push_back(std::move(m));
        r.blanks();
        if (r.i < line.size() && line[r.i] == ',') { ++r.i; continue; }
        if (r.i < line.size() && line[r.i] == '}') { ++r.i; break; }
        ok = r.fail("expected ',' or '}'");
        break;
      }
    }
    if (ok) {
      r.blanks();
      if (r.i < line.size()) r.fail("text after the object");
    }
  }
  if (r.err.empty()) return true;
  *error = r.err;
  return false;
}

}  // namespace sd
