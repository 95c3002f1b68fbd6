// The rule parser (grammar in rules.h): a text read into rules, each checked
// against what its calls take, or one line saying what is wrong. Runs once
// before main (and in `sockdiag check`). Its words are in rule_vocabulary.h,
// the normal form in rule_normal_form.cpp, the set built in rule_set.cpp, the
// matcher in rule_match.cpp. Nothing here is a static object with a destructor.
#include "rules.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "escape.h"
#include "nearest.h"
#include "rule_normal_form.h"
#include "rule_vocabulary.h"

namespace sd {
namespace {

using namespace rule_lang;

// ---- Small text helpers -----------------------------------------------------

std::string list_names(const char* const* names, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) s += ", ";
    s += names[i];
  }
  return s;
}

std::string error_names(CallId c) {
  ErrList l = errors_of(c);
  CodeKind d = c == C::getaddrinfo ? CodeKind::gai : CodeKind::errno_code;
  std::string s;
  for (std::size_t i = 0; i < l.count; ++i) {
    if (i) s += ", ";
    s += code_name(d, l.codes[i]);
  }
  return s;
}

// ---- The parser -------------------------------------------------------------

constexpr uint64_t kMaxDurationNs = 86400ull * 1000000000ull;
constexpr uint64_t kMaxSize = uint64_t{1} << 62;

class TextParser {
 public:
  TextParser(std::string_view text, std::string_view source, unsigned line, unsigned first_column,
             std::vector<Rule>* rules, std::deque<std::string>* strings, std::string* error)
      : t_(text), source_(source), line_(line), first_column_(first_column ? first_column : 1),
        rules_(rules), strings_(strings), error_(error) {}

  bool parse() {
    for (;;) {
      skip_blanks();
      if (p_ >= t_.size()) return true;
      if (t_[p_] == ';' || t_[p_] == '\n') {
        ++p_;
        continue;
      }
      if (!rule()) return false;  // stops at a separator or the end
    }
  }

 private:
  // -- Positions and errors --

  bool fail(std::size_t pos, const std::string& msg) {
    unsigned line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < pos && i < t_.size(); ++i)
      if (t_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    std::string where(source_);
    if (line_ > 0)
      where += ":" + std::to_string(line_ + line - 1);
    else if (t_.find('\n') != std::string_view::npos)
      where += " line " + std::to_string(line);
    std::size_t column = pos - line_start + (line == 1 ? first_column_ : 1);
    *error_ = where + ", column " + std::to_string(column) + ": " + msg;
    return false;
  }

  std::string found(std::size_t pos) const {
    if (pos >= t_.size()) return "the end of the text";
    char c = t_[pos];
    if (c == '\n') return "the end of the line";
    std::size_t e = pos;
    while (e < t_.size() && is_word(t_[e])) ++e;
    if (e > pos) return quoted(t_.substr(pos, e - pos));
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "byte 0x%02x", u);
      return buf;
    }
    return std::string("'") + c + "'";
  }

  // Blanks, and a comment: '#' where a rule may start or after a blank.
  void skip_blanks() {
    while (p_ < t_.size() && is_blank(t_[p_])) ++p_;
    bool comment = p_ < t_.size() && t_[p_] == '#' &&
                   (p_ == 0 || is_blank(t_[p_ - 1]) || t_[p_ - 1] == ';' || t_[p_ - 1] == '\n');
    if (comment)
      while (p_ < t_.size() && t_[p_] != '\n') ++p_;
  }

  std::string_view word() {
    std::size_t s = p_;
    while (p_ < t_.size() && is_word(t_[p_])) ++p_;
    return t_.substr(s, p_ - s);
  }

  const char* keep(std::string s) {
    strings_->push_back(std::move(s));
    return strings_->back().c_str();
  }

  // -- A rule --

  bool rule() {
    rule_start_ = p_;
    r_ = Rule{};
    have_ = 0;
    action_key_ = nullptr;
    std::size_t at = p_;
    std::string_view w = word();
    if (w.empty()) return fail(at, "expected a call or group, found " + found(at));
    if (!target_from_name(w, &r_.target, &r_.calls)) {
      for (const KeyInfo& k : kKeys)
        if (w == k.name)
          return fail(at, "expected a call or group, found the key " + quoted(w) +
                              ": a rule starts with what it applies to, e.g. connect:error=ECONNREFUSED");
      const char* names[kRuleCallCount + 5];
      for (unsigned i = 0; i < kRuleCallCount; ++i) names[i] = kRuleCallNames[i];
      for (unsigned i = 0; i < 5; ++i) names[kRuleCallCount + i] = kGroupNames[i];
      std::string hint = did_you_mean(w, names, kRuleCallCount + 5);
      if (hint.empty()) hint = " (calls: " + list_names(kRuleCallNames, kRuleCallCount) + "; groups: io, input, output, wait, dns)";
      return fail(at, "expected a call or group, found " + quoted(w) + hint);
    }
    last_ = quoted(r_.target);
    for (;;) {
      skip_blanks();
      if (p_ >= t_.size() || t_[p_] != ':') break;
      ++p_;
      skip_blanks();
      if (!part()) return false;
    }
    if (p_ < t_.size() && t_[p_] != ';' && t_[p_] != '\n')
      return fail(p_, "expected ':' or ';' after " + last_ + ", found " + found(p_));
    if (!validate()) return false;
    if (rules_->size() >= kMaxRules)
      return fail(rule_start_, "too many rules: at most " + std::to_string(kMaxRules));
    r_.index = static_cast<uint32_t>(rules_->size());
    r_.text = keep(normal_form(r_));
    rules_->push_back(r_);
    return true;
  }

  bool part() {
    std::size_t at = p_;
    std::string_view w = word();
    if (w.empty()) return fail(at, "expected a key after ':', found " + found(at));
    unsigned k = 0;
    while (k < kKeyCount && w != kKeys[k].name) ++k;
    if (k == kKeyCount) {
      const char* names[kKeyCount];
      for (unsigned i = 0; i < kKeyCount; ++i) names[i] = kKeys[i].name;
      std::string hint = did_you_mean(w, names, kKeyCount);
      if (hint.empty()) hint = " (keys: " + list_names(names, kKeyCount) + ")";
      return fail(at, "expected a key, found " + quoted(w) + hint);
    }
    Key key = static_cast<Key>(k);
    const KeyInfo& ki = info(key);
    if (have_ & (1u << k)) return fail(at, std::string(ki.name) + " is given twice in one rule");
    if (is_action(key)) {
      if (action_key_)
        return fail(at, std::string("a rule has one action; this one already has ") + action_key_ +
                            " (write a second rule for " + ki.name + ")");
      action_key_ = ki.name;
      action_pos_ = at;
    }
    have_ |= 1u << k;
    key_pos_[k] = at;
    skip_blanks();
    bool has_value = p_ < t_.size() && t_[p_] == '=';
    if (has_value && ki.value == Value::none)
      return fail(p_, std::string(ki.name) + " takes no value, found '='");
    if (!has_value && ki.value == Value::required)
      return fail(p_, std::string("expected '=' and a value after ") + ki.name + ", e.g. " + ki.example +
                          ", found " + found(p_));
    if (has_value) {
      ++p_;
      skip_blanks();
      // An address may start with ':' ("::1"); peer and net explain that themselves.
      bool colon_ok = (key == Key::peer || key == Key::net) && p_ < t_.size() && t_[p_] == ':';
      if (!colon_ok && (p_ >= t_.size() || ends_value(t_[p_])))
        return fail(p_, std::string("expected a value for ") + ki.name + ", e.g. " + ki.example + ", found " +
                            found(p_));
    }
    if (!value(key, has_value)) return false;
    last_ = quoted(t_.substr(at, p_ - at));
    r_.filters |= ki.filter;
    return true;
  }

  // -- Values --

  // An unquoted value: up to the next blank, ':', ';' or newline.
  std::string_view token() {
    std::size_t s = p_;
    while (p_ < t_.size() && !ends_value(t_[p_])) ++p_;
    return t_.substr(s, p_ - s);
  }

  // A string value, quoted or not; control bytes refused.
  bool string_value(const char* key, std::string* out) {
    std::size_t at = p_;
    out->clear();
    if (t_[p_] == '"') {
      ++p_;
      for (;;) {
        if (p_ >= t_.size() || t_[p_] == '\n') return fail(at, std::string("the quoted value of ") + key + " has no closing '\"'");
        char c = t_[p_++];
        if (c == '"') break;
        if (c == '\\') {
          if (p_ >= t_.size() || (t_[p_] != '"' && t_[p_] != '\\'))
            return fail(p_ - 1, "expected \\\" or \\\\ inside quotes, found " + found(p_ - 1));
          c = t_[p_++];
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          return fail(p_ - 1, std::string("expected a printable character in the value of ") + key + ", found " + found(p_ - 1));
        }
        *out += c;
      }
      if (out->empty()) return fail(at, std::string("the value of ") + key + " is empty");
      return true;
    }
    std::string_view v = token();
    for (std::size_t i = 0; i < v.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(v[i]);
      if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
        return fail(at + i, std::string("expected a printable character in the value of ") + key +
                                " (quote a value holding '\"' or '\\'), found " + found(at + i));
    }
    *out = std::string(v);
    return true;
  }

  // Decimal digits at s[*i...], overflow-checked.
  static bool digits(std::string_view s, std::size_t* i, uint64_t* v, bool* overflow) {
    std::size_t start = *i;
    *v = 0;
    *overflow = false;
    while (*i < s.size() && is_digit(s[*i])) {
      unsigned d = static_cast<unsigned>(s[*i] - '0');
      if (*v > (UINT64_MAX - d) / 10) *overflow = true;
      else *v = *v * 10 + d;
      ++*i;
    }
    return *i > start;
  }

  // A whole number in [lo, hi].
  bool number(std::string_view s, std::size_t at, const KeyInfo& k, uint64_t lo, uint64_t hi, uint64_t* v) {
    std::size_t i = 0;
    bool ovf;
    if (!digits(s, &i, v, &ovf) || i != s.size())
      return fail(at + i, std::string("expected a whole number for ") + k.name + ", e.g. " + k.example +
                              ", found " + quoted(s));
    if (ovf || *v > hi)
      return fail(at, std::string("number too large for ") + k.name + ": " + quoted(s) + " (at most " +
                          std::to_string(hi) + ")");
    if (*v < lo)
      return fail(at, std::string(k.name) + " must be at least " + std::to_string(lo) + ", found " + quoted(s));
    return true;
  }

  bool size(std::string_view s, std::size_t at, const KeyInfo& k, uint64_t* v) {
    std::size_t i = 0;
    bool ovf;
    if (!digits(s, &i, v, &ovf))
      return fail(at, std::string("expected a size in bytes for ") + k.name + ", e.g. " + k.example +
                          ", found " + quoted(s));
    std::string_view unit = s.substr(i);
    struct Unit {
      const char* name;
      uint64_t mult;
    };
    static constexpr Unit kUnits[] = {{"", 1},          {"B", 1},          {"K", 1ull << 10},   {"k", 1ull << 10},
                                      {"KiB", 1ull << 10}, {"KB", 1000},   {"kB", 1000},        {"M", 1ull << 20},
                                      {"MiB", 1ull << 20}, {"MB", 1000000}, {"G", 1ull << 30},  {"GiB", 1ull << 30},
                                      {"GB", 1000000000}};
    const Unit* u = nullptr;
    for (const Unit& x : kUnits)
      if (unit == x.name) u = &x;
    if (!u) {
      if (!unit.empty() && unit[0] == '.')
        return fail(at + i, std::string("expected a whole number of bytes for ") + k.name + ", found " + quoted(s));
      static constexpr const char* kNames[] = {"B", "K", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB"};
      return fail(at + i, std::string("expected a size unit (B, K, KiB, KB, M, MiB, MB, G, GiB, GB; K=1024, KB=1000), found ") +
                              quoted(unit) + did_you_mean(unit, kNames, 10));
    }
    if (ovf || *v > kMaxSize / u->mult)
      return fail(at, std::string("size too large for ") + k.name + ": " + quoted(s) + " (at most 2^62 bytes)");
    *v *= u->mult;
    if (*v == 0) return fail(at, std::string(k.name) + " must be more than 0, found " + quoted(s));
    return true;
  }

  // DURATION, a range A..B (uniform) or M~S (normal: mean and deviation).
  bool delay(std::string_view s, std::size_t at, const KeyInfo& k) {
    std::size_t range = s.find("..");
    std::size_t normal = s.find('~');
    if (range == std::string_view::npos && normal == std::string_view::npos) return duration(s, at, k, &r_.wait_ns);
    bool is_range = range != std::string_view::npos;
    std::size_t cut = is_range ? range : normal;
    std::size_t second = cut + (is_range ? 2 : 1);
    uint64_t* other = is_range ? &r_.wait_hi_ns : &r_.wait_sd_ns;
    if (!duration(s.substr(0, cut), at, k, &r_.wait_ns) || !duration(s.substr(second), at + second, k, other))
      return false;
    if (is_range && r_.wait_hi_ns <= r_.wait_ns)
      return fail(at, "the range " + quoted(s) + " must end after it starts; for a fixed delay write delay=" +
                          std::string(s.substr(0, cut)));
    return true;
  }

  bool duration(std::string_view s, std::size_t at, const KeyInfo& k, uint64_t* ns) {
    std::size_t i = 0;
    uint64_t whole = 0, frac = 0, scale = 1;
    bool ovf = false;
    if (!digits(s, &i, &whole, &ovf))
      return fail(at, std::string("expected a duration for ") + k.name + ", e.g. " + k.example + ", found " +
                          quoted(s));
    if (i < s.size() && s[i] == '.') {
      ++i;
      std::size_t fs = i;
      while (i < s.size() && is_digit(s[i])) {
        if (i - fs >= 9)
          return fail(at + i, std::string("too many decimals in ") + quoted(s) + " (the finest unit is 1us)");
        frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
        ++i;
      }
      if (i == fs) return fail(at + i, "expected digits after '.' in " + quoted(s));
    }
    std::string_view unit = s.substr(i);
    uint64_t mult;
    if (unit == "us") mult = 1000;
    else if (unit == "ms") mult = 1000000;
    else if (unit == "s") mult = 1000000000;
    else if (unit.empty())
      return fail(at + i, std::string("expected a unit after ") + quoted(s) + " (us, ms or s), e.g. " + k.example);
    else {
      static constexpr const char* kNames[] = {"us", "ms", "s"};
      return fail(at + i, "expected a duration unit (us, ms or s), found " + quoted(unit) + did_you_mean(unit, kNames, 3));
    }
    if (ovf || whole > kMaxDurationNs / mult)
      return fail(at, std::string("duration too long for ") + k.name + ": " + quoted(s) + " (at most 24h = 86400s)");
    uint64_t part = frac * mult;  // frac < 1e9, mult <= 1e9: fits
    if (part % scale != 0 || (part / scale) % 1000 != 0)
      return fail(at, "duration finer than 1us: " + quoted(s));
    *ns = whole * mult + part / scale;
    if (*ns > kMaxDurationNs)
      return fail(at, std::string("duration too long for ") + k.name + ": " + quoted(s) + " (at most 24h = 86400s)");
    if (*ns == 0) return fail(at, std::string(k.name) + " must be more than 0, found " + quoted(s));
    return true;
  }

  bool ports(std::string_view s, std::size_t at, const KeyInfo& k, uint16_t* lo, uint16_t* hi) {
    std::size_t dash = s.find('-');
    if (dash == 0 || (dash != std::string_view::npos && dash + 1 == s.size()))
      return fail(at, std::string("expected a port or a range for ") + k.name + ", e.g. " + k.example + ", found " + quoted(s));
    uint64_t a, b;
    if (!number(s.substr(0, dash), at, k, 1, 65535, &a)) return false;
    b = a;
    if (dash != std::string_view::npos && !number(s.substr(dash + 1), at + dash + 1, k, 1, 65535, &b)) return false;
    if (b < a) return fail(at, "the range " + quoted(s) + " ends before it starts");
    *lo = static_cast<uint16_t>(a);
    *hi = static_cast<uint16_t>(b);
    return true;
  }

  bool nth(std::string_view s, std::size_t at, const KeyInfo& k) {
    std::size_t dots = s.find("..");
    if (dots == 0)
      return fail(at, std::string("expected a call number or range for nth, e.g. ") + k.example + ", found " + quoted(s));
    if (!number(s.substr(0, dots), at, k, 1, UINT64_MAX, &r_.nth_lo)) return false;
    if (dots == std::string_view::npos) {
      r_.nth_hi = r_.nth_lo;
      return true;
    }
    std::string_view rest = s.substr(dots + 2);
    r_.nth_hi = 0;
    if (rest.empty()) return true;
    if (!number(rest, at + dots + 2, k, 1, UINT64_MAX, &r_.nth_hi)) return false;
    if (r_.nth_hi < r_.nth_lo) return fail(at, "the range " + quoted(s) + " ends before it starts");
    return true;
  }

  bool prob(std::string_view s, std::size_t at, const KeyInfo& k) {
    bool percent = !s.empty() && s.back() == '%';
    std::string_view n = percent ? s.substr(0, s.size() - 1) : s;
    std::size_t i = 0;
    uint64_t whole;
    bool ovf;
    std::string expect = std::string("expected a probability for ") + k.name + ", e.g. " + k.example + ", found " + quoted(s);
    if (!digits(n, &i, &whole, &ovf)) return fail(at, expect);
    unsigned max_decimals = percent ? 7 : 9;
    uint64_t frac = 0;
    unsigned decimals = 0;
    if (i < n.size() && n[i] == '.') {
      ++i;
      while (i < n.size() && is_digit(n[i])) {
        if (++decimals > max_decimals)
          return fail(at + i, "too many decimals in " + quoted(s) + " (at most " + std::to_string(max_decimals) + ")");
        frac = frac * 10 + static_cast<uint64_t>(n[i] - '0');
        ++i;
      }
      if (decimals == 0) return fail(at + i, "expected digits after '.' in " + quoted(s));
    }
    if (i != n.size()) return fail(at + i, expect);
    for (unsigned d = decimals; d < max_decimals; ++d) frac *= 10;
    uint64_t one = percent ? 100 : 1;
    if (ovf || whole > one || (whole == one && frac > 0))
      return fail(at, std::string("prob is at most 1 (or 100%), found ") + quoted(s));
    uint64_t b = percent ? whole * 10000000 + frac : whole * 1000000000 + frac;
    if (b == 0) return fail(at, "prob must be more than 0 (the rule would never inject), found " + quoted(s));
    r_.prob = static_cast<uint32_t>(b);
    return true;
  }

  // An IP address with inet_pton, from a view.
  static bool ip(std::string_view s, int family, uint8_t* out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (s.empty() || s.size() >= sizeof buf) return false;
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    return inet_pton(family, buf, out) == 1;
  }

  // Inside [] an IPv6 address holds ':'; only these end it early.
  static bool ends_bracket(char c) { return is_blank(c) || c == ';' || c == '\n'; }

  static bool is_hex_or_colon(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
  }

  // ::ffff:a.b.c.d is an IPv4 address to the matcher: keep it as one.
  static void unmap(int* family, uint8_t* addr) {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (*family == AF_INET6 && std::memcmp(addr, kPrefix, 12) == 0) {
      std::memmove(addr, addr + 12, 4);
      std::memset(addr + 4, 0, 12);
      *family = AF_INET;
    }
  }

  // ":PORT" after an address in peer=.
  bool peer_port(std::size_t at) {
    if (p_ + 1 >= t_.size() || t_[p_] != ':' || !is_digit(t_[p_ + 1])) return true;
    ++p_;
    std::size_t s = p_;
    std::string_view v = token();
    if (!ports(v, s, info(Key::port), &r_.port_lo, &r_.port_hi)) return false;
    if (r_.port_lo != r_.port_hi) return fail(s, "write a port range as its own filter: port=" + std::string(v));
    if (have_ & (1u << static_cast<unsigned>(Key::port))) return fail(s, "port is given twice in one rule");
    have_ |= 1u << static_cast<unsigned>(Key::port);
    key_pos_[static_cast<unsigned>(Key::port)] = at;
    r_.filters |= rf_port;
    return true;
  }

  bool peer() {
    std::size_t at = p_;
    char c = t_[p_];
    if (c == '"' || c == '/' || c == '@') {
      std::string path;
      if (!string_value("peer", &path)) return false;
      if (path[0] != '/' && path[0] != '@')
        return fail(at, "expected a unix socket path starting with '/' or '@' for peer, found " + quoted(path));
      if (path.size() >= sizeof(sockaddr_un{}.sun_path))
        return fail(at, "unix socket path too long for peer: " + std::to_string(path.size()) + " bytes (at most " +
                            std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + ")");
      r_.peer_family = AF_UNIX;
      r_.peer_path = keep(std::move(path));
      return true;
    }
    if (c == '[') {
      std::size_t close = p_;
      while (close < t_.size() && t_[close] != ']' && !ends_bracket(t_[close])) ++close;
      if (close >= t_.size() || t_[close] != ']') return fail(at, "expected ']' after the IPv6 address of peer");
      if (!ip(t_.substr(at + 1, close - at - 1), AF_INET6, r_.peer_addr))
        return fail(at + 1, "expected an IPv6 address inside [], found " + quoted(t_.substr(at + 1, close - at - 1)));
      r_.peer_family = AF_INET6;
      unmap(&r_.peer_family, r_.peer_addr);
      p_ = close + 1;
      return peer_port(at);
    }
    std::size_t e = p_;
    while (e < t_.size() && (is_digit(t_[e]) || t_[e] == '.')) ++e;
    std::string_view v4 = t_.substr(p_, e - p_);
    if (ip(v4, AF_INET, r_.peer_addr) && (e >= t_.size() || ends_value(t_[e]) || t_[e] == '/')) {
      if (e < t_.size() && t_[e] == '/') {
        std::string_view whole = t_.substr(at, e - at);
        p_ = e;
        std::string_view rest = token();
        return fail(at, "peer takes one address; for a prefix write net=" + std::string(whole) + std::string(rest));
      }
      r_.peer_family = AF_INET;
      p_ = e;
      return peer_port(at);
    }
    std::size_t h = p_;
    while (h < t_.size() && is_hex_or_colon(t_[h])) ++h;
    std::string_view v6 = t_.substr(p_, h - p_);
    while (!v6.empty() && v6.back() == ':' && !ip(v6, AF_INET6, r_.peer_addr)) v6.remove_suffix(1);
    uint8_t tmp[16];
    if (v6.find(':') != std::string_view::npos && ip(v6, AF_INET6, tmp))
      return fail(at, "write an IPv6 address in brackets: peer=[" + std::string(v6) + "]");
    std::string_view tok = token();
    bool name = !tok.empty();
    for (char ch : tok) name = name && (is_word(ch) || ch == '-' || ch == '.');
    if (name && !ip(tok, AF_INET, tmp))
      return fail(at, "peer takes an address, found the name " + quoted(tok) + "; to match a name write host=" + std::string(tok));
    return fail(at, "expected an address for peer, e.g. " + std::string(info(Key::peer).example) + ", found " + quoted(tok));
  }

  bool net() {
    std::size_t at = p_;
    std::string_view addr;
    if (t_[p_] == '[') {
      std::size_t close = p_;
      while (close < t_.size() && t_[close] != ']' && !ends_bracket(t_[close])) ++close;
      if (close >= t_.size() || t_[close] != ']') return fail(at, "expected ']' after the IPv6 address of net");
      addr = t_.substr(at + 1, close - at - 1);
      p_ = close + 1;
    } else {
      std::size_t e = p_;
      while (e < t_.size() && is_hex_or_colon(t_[e])) ++e;
      // "10.0.0.0:port=5": the ':' ends the part, it is not part of an IPv6 address.
      while (e > p_ && t_[e - 1] == ':' && (e >= t_.size() || t_[e] != '/')) --e;
      addr = t_.substr(p_, e - p_);
      p_ = e;
    }
    std::size_t slash = p_;
    if (p_ >= t_.size() || t_[p_] != '/') {
      std::string_view rest = token();
      if (!rest.empty() || addr.empty())
        return fail(at, "expected an address and a prefix length for net, e.g. net=10.0.0.0/8, found " +
                            quoted(t_.substr(at, p_ - at)));
      return fail(slash, "expected '/' and a prefix length after " + quoted(addr) + ", e.g. net=10.0.0.0/8");
    }
    ++p_;
    std::size_t bits_at = p_;
    std::string_view bits_text = token();
    int family;
    if (ip(addr, AF_INET, r_.net_addr)) family = AF_INET;
    else if (ip(addr, AF_INET6, r_.net_addr)) family = AF_INET6;
    else return fail(at, "expected an IPv4 or IPv6 address for net, e.g. net=10.0.0.0/8, found " + quoted(addr));
    uint64_t bits;
    unsigned max_bits = family == AF_INET ? 32 : 128;
    std::size_t i = 0;
    bool ovf;
    if (!digits(bits_text, &i, &bits, &ovf) || i != bits_text.size())
      return fail(bits_at, "expected a prefix length (0-" + std::to_string(max_bits) + ") after '/', found " + quoted(bits_text));
    if (ovf || bits > max_bits)
      return fail(bits_at, "prefix length " + quoted(bits_text) + " is more than " + std::to_string(max_bits));
    // Host bits set usually means a mistyped prefix: refuse rather than guess.
    uint8_t masked[16];
    std::memcpy(masked, r_.net_addr, 16);
    for (unsigned b = static_cast<unsigned>(bits); b < max_bits; ++b) masked[b / 8] &= static_cast<uint8_t>(~(0x80u >> (b % 8)));
    if (std::memcmp(masked, r_.net_addr, 16) != 0)
      return fail(at, quoted(t_.substr(at, p_ - at)) + " has bits set after the prefix; did you mean net=" +
                          address_text(family, masked) + "/" + std::to_string(bits) + "?");
    r_.net_family = family;
    r_.net_bits = static_cast<unsigned>(bits);
    if (family == AF_INET6 && bits >= 96) {
      int f = family;
      unmap(&f, r_.net_addr);
      if (f == AF_INET) {
        r_.net_family = AF_INET;
        r_.net_bits -= 96;
      }
    }
    return true;
  }

  bool error_code(std::size_t at) {
    std::size_t s = p_;
    while (p_ < t_.size() && (is_word(t_[p_]) || t_[p_] == '-')) ++p_;
    std::string_view name = t_.substr(s, p_ - s);
    if (name.empty() || (p_ < t_.size() && !ends_value(t_[p_]))) {
      std::string_view tok = (p_ = s, token());
      return fail(at, "expected an error name for " + std::string(r_.target) + ", e.g. error=ECONNREFUSED, found " + quoted(tok));
    }
    CodeKind d;
    int code;
    if (!code_from_name(name, &d, &code)) {
      // Suggest first among what this rule's calls can return, then any known name.
      std::vector<const char*> names;
      std::size_t own = 0;
      for (int pass = 0; pass < 2; ++pass) {
        for (unsigned c = 0; c < kRuleCallCount; ++c) {
          CallId id = static_cast<CallId>(c);
          if (pass == 0 && !(r_.calls & call_bit(id))) continue;
          ErrList l = errors_of(id);
          CodeKind cd = id == C::getaddrinfo ? CodeKind::gai : CodeKind::errno_code;
          for (std::size_t i = 0; i < l.count; ++i) names.push_back(code_name(cd, l.codes[i]));
        }
        if (pass == 0) own = names.size();
      }
      const char* near = suggestion(name, names.data(), own);
      if (!near) near = suggestion(name, names.data(), names.size());
      std::string hint = near ? std::string("; did you mean ") + near + "?" : std::string();
      return fail(s, "expected an error name for " + std::string(r_.target) + ", found " + quoted(name) + hint);
    }
    if (d == CodeKind::event)
      return fail(s, quoted(name) + " is not an error code; for an end of stream write the action eof");
    r_.error_code_kind = d;
    r_.error_code = code;
    return true;
  }

  bool value(Key key, bool has_value) {
    std::size_t at = p_;
    const KeyInfo& k = info(key);
    std::string s;
    switch (key) {
      case Key::error: return error_code(at);
      case Key::short_: return size(token(), at, k, &r_.bytes);
      case Key::delay: return delay(token(), at, k);
      case Key::eof: case Key::reset: case Key::close_: case Key::drop: case Key::duplicate: return true;
      case Key::reorder: {
        // A plain number counts datagrams; with a unit it is a time.
        std::string_view v = token();
        bool count = !v.empty();
        for (char ch : v) count = count && is_digit(ch);
        if (count) return number(v, at, k, 1, kMaxReorderCount, &r_.reorder_n);
        return duration(v, at, k, &r_.wait_ns);
      }
      case Key::truncate: return size(token(), at, k, &r_.bytes);
      case Key::stall: return !has_value || duration(token(), at, k, &r_.wait_ns);
      case Key::slow_close: return duration(token(), at, k, &r_.wait_ns);
      case Key::timeout:
        r_.wait_ns = kDefaultConnectTimeoutNs;
        return !has_value || duration(token(), at, k, &r_.wait_ns);
      case Key::bandwidth: {
        std::string_view v = token();
        if (v.size() >= 2 && v.substr(v.size() - 2) == "/s") v.remove_suffix(2);
        return size(v, at, k, &r_.bytes);
      }
      case Key::peer: return peer();
      case Key::net: return net();
      case Key::port: return ports(token(), at, k, &r_.port_lo, &r_.port_hi);
      case Key::lport: return ports(token(), at, k, &r_.lport_lo, &r_.lport_hi);
      case Key::host: {
        if (!string_value("host", &s)) return false;
        if (s.size() > 253) return fail(at, "host name too long: " + std::to_string(s.size()) + " characters (at most 253)");
        for (std::size_t i = 0; i < s.size(); ++i) {
          char c = s[i];
          if (!(is_word(c) || c == '-' || c == '.' || c == '*' || c == '?'))
            return fail(at, "expected a host name or glob for host (letters, digits, '-', '.', '_', '*', '?'), found " + quoted(s));
          if (c >= 'A' && c <= 'Z') s[i] = static_cast<char>(c - 'A' + 'a');
        }
        // getaddrinfo answers a literal address itself: a dns rule would
        // never touch it (INJECT.md, "DNS rules").
        in_addr literal;
        if (r_.calls == call_bit(CallId::getaddrinfo) && inet_aton(s.c_str(), &literal) != 0)
          return fail(at, quoted(s) + " is an address, which getaddrinfo answers without asking DNS: a " +
                              std::string(r_.target) + " rule never touches it; for a connection to it write peer=" + s);
        r_.host = keep(std::move(s));
        return true;
      }
      case Key::kind: {
        std::string_view w = word();
        if (p_ < t_.size() && !ends_value(t_[p_])) {
          p_ = at;
          w = token();
        }
        for (unsigned i = 1; i < sizeof kKindNames / sizeof kKindNames[0]; ++i)
          if (w == kKindNames[i]) {
            r_.kind = static_cast<RuleKind>(i);
            return true;
          }
        std::string hint = did_you_mean(w, kKindNames + 1, 9);
        return fail(at, "expected a socket kind (" + list_names(kKindNames + 1, 9) + "), found " + quoted(w) + hint);
      }
      case Key::prog: {
        if (!string_value("prog", &s)) return false;
        std::size_t slash = s.rfind('/');
        if (slash != std::string::npos)
          return fail(at, "prog is the program's name without a directory; did you mean prog=" +
                              string_text(s.substr(slash + 1)) + "?");
        if (s.size() > 255) return fail(at, "program name too long: " + std::to_string(s.size()) + " bytes (at most 255)");
        r_.prog = keep(std::move(s));
        return true;
      }
      case Key::after_bytes: return size(token(), at, k, &r_.after_bytes);
      case Key::after: return duration(token(), at, k, &r_.after_ns);
      case Key::since_start: return duration(token(), at, k, &r_.since_start_ns);
      case Key::nth: return nth(token(), at, k);
      case Key::every: return number(token(), at, k, 1, UINT64_MAX, &r_.every);
      case Key::prob: return prob(token(), at, k);
      case Key::times: return number(token(), at, k, 1, UINT64_MAX, &r_.times);
    }
    return false;
  }

  // -- Whole-rule checks --

  std::size_t pos_of(Key k) const { return key_pos_[static_cast<unsigned>(k)]; }
  bool has(Key k) const { return (have_ & (1u << static_cast<unsigned>(k))) != 0; }

  // "recv (io includes recv)" when the rule names a group.
  std::string call_in_target(CallId c) const {
    std::string name = call_id_name(c);
    if (name != r_.target) name += std::string(" (") + r_.target + " includes " + call_id_name(c) + ")";
    return name;
  }

  bool validate() {
    if (!action_key_) {
      CallId first = C::socket;
      for (unsigned c = 0; c < kRuleCallCount; ++c)
        if (r_.calls & call_bit(static_cast<CallId>(c))) {
          first = static_cast<CallId>(c);
          break;
        }
      return fail(rule_start_, "the rule has no action; " + takes(first, true));
    }
    unsigned action_index = 0;
    while (kKeys[action_index].name != action_key_) ++action_index;
    r_.action = kActionOfKey[action_index];

    for (unsigned ci = 0; ci < kRuleCallCount; ++ci) {
      CallId c = static_cast<CallId>(ci);
      if (!(r_.calls & call_bit(c))) continue;
      if (r_.action == RuleAction::error) {
        if (errors_of(c).count == 0)
          return fail(action_pos_, call_in_target(c) + " cannot fail with an error: on Linux, closing a socket always "
                                   "releases the descriptor and returns 0; " + takes(c, true));
        bool dns = c == C::getaddrinfo;
        const char* name = code_name(r_.error_code_kind, r_.error_code);
        if (dns && r_.error_code_kind != CodeKind::gai)
          return fail(action_pos_, call_in_target(c) + " fails with EAI_ codes, not errnos like " + name +
                                   "; it can fail with: " + error_names(c));
        if (!dns && r_.error_code_kind == CodeKind::gai)
          return fail(action_pos_, std::string(name) + " is a getaddrinfo result (write dns:error=" + name + "); " +
                                   call_in_target(c) + " can fail with: " + error_names(c));
        if (!error_allowed(c, r_.error_code))
          return fail(action_pos_, call_in_target(c) + " cannot fail with " + name + "; " + call_id_name(c) +
                                   " can fail with: " + error_names(c));
      } else if (!action_applies(r_.action, c)) {
        return fail(action_pos_, std::string(action_key_) + " does not apply to " + call_in_target(c) + "; " +
                                 takes(c, true));
      }
      uint32_t bad = r_.filters & ~filters_for(c);
      if (bad) {
        unsigned k = 0;
        while (!(kKeys[k].filter & bad)) ++k;
        return fail(key_pos_[k], std::string(kKeys[k].name) + " does not apply to " + call_in_target(c) +
                                     " (never known there); " + takes(c, false));
      }
    }

    if (has(Key::peer) && has(Key::net))
      return fail(pos_of(Key::net), "give peer or net, not both");
    if (has(Key::kind)) {
      RuleKind kd = r_.kind;
      const char* kn = kKindNames[static_cast<unsigned>(kd)];
      int fam = has(Key::peer) ? r_.peer_family : has(Key::net) ? r_.net_family : 0;
      std::size_t fam_pos = has(Key::peer) ? pos_of(Key::peer) : pos_of(Key::net);
      bool contradiction = (fam == AF_UNIX && kd != RuleKind::unix_socket) ||
                           ((fam == AF_INET || fam == AF_INET6) && kd == RuleKind::unix_socket) ||
                           (fam == AF_INET && kind_is_v6(kd)) || (fam == AF_INET6 && kind_is_v4(kd));
      if (contradiction)
        return fail(fam_pos, std::string("this address can never be the peer of a kind=") + kn + " socket");
      if (kd == RuleKind::unix_socket && (has(Key::port) || has(Key::lport)))
        return fail(pos_of(has(Key::port) ? Key::port : Key::lport), "unix sockets have no ports (kind=unix)");
      if (kind_is_udp(kd) && (r_.action == RuleAction::short_transfer || r_.action == RuleAction::eof ||
                              r_.action == RuleAction::reset || r_.action == RuleAction::close ||
                              r_.action == RuleAction::timeout))
        return fail(action_pos_, std::string(action_key_) + " does not happen to UDP (kind=" + kn +
                                 "): datagrams move whole, and there is no connection to end, reset or time out");
      if (kind_is_tcp(kd) && is_datagram_action(r_.action))
        return fail(action_pos_, std::string(action_key_) + " acts on datagrams (UDP, unix datagram sockets); kind=" +
                                     kn + " is a stream, whose bytes TCP delivers whole and in order");
      if (kind_is_udp(kd) && (r_.action == RuleAction::stall || r_.action == RuleAction::slow_close))
        return fail(action_pos_, std::string(action_key_) + " does not happen to UDP (kind=" + kn +
                                 "): it acts on a stream connection, and datagrams have none");
      if (kd == RuleKind::unix_socket && (r_.action == RuleAction::reset || r_.action == RuleAction::timeout))
        return fail(action_pos_, std::string(action_key_) + " is a TCP event; it does not happen on unix sockets");
    }
    if (r_.peer_family == AF_UNIX && has(Key::port))
      return fail(pos_of(Key::port), "unix sockets have no ports (peer is a unix path)");
    if (has(Key::every)) {
      // nth and every both hold on the call number: refuse a pair no number satisfies.
      uint64_t lo = has(Key::nth) ? r_.nth_lo : 1;
      uint64_t first = (lo + r_.every - 1) / r_.every;  // the first multiple, divided by every
      bool none = first > UINT64_MAX / r_.every ||
                  (has(Key::nth) && r_.nth_hi != 0 && first * r_.every > r_.nth_hi);
      if (none)
        return fail(pos_of(Key::every), "no call number in nth=" + nth_text(r_) + " is a multiple of every=" +
                                            std::to_string(r_.every) + ": the rule would never inject");
    }
    return true;
  }

  std::string_view t_;
  std::string_view source_;
  unsigned line_;
  unsigned first_column_;
  std::vector<Rule>* rules_;
  std::deque<std::string>* strings_;
  std::string* error_;
  std::size_t p_ = 0;
  std::size_t rule_start_ = 0;
  Rule r_;
  uint32_t have_ = 0;                // Key bits seen in this rule
  std::size_t key_pos_[kKeyCount] = {};
  const char* action_key_ = nullptr;
  std::size_t action_pos_ = 0;
  std::string last_;                 // the last thing parsed, for "after ..." in messages
};

}  // namespace

bool RuleParser::add(std::string_view text, std::string_view source, unsigned line, std::string* error,
                     unsigned first_column) {
  std::size_t before = rules_.size();
  TextParser p(text, source, line, first_column, &rules_, &strings_, error);
  if (p.parse()) return true;
  rules_.resize(before);
  return false;
}

}  // namespace sd
