// The normal form of a rule and of a rule set (rule_normal_form.h).
#include "rule_normal_form.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdio>

#include "rule_vocabulary.h"

namespace sd {
namespace rule_lang {

// ---- Normal form ------------------------------------------------------------

std::string size_text(uint64_t n) {
  struct Unit {
    uint64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1ull << 30, "G"}, {1ull << 20, "M"}, {1ull << 10, "K"},
                                    {1000000000ull, "GB"}, {1000000ull, "MB"}, {1000ull, "KB"}};
  for (const Unit& u : kUnits)
    if (n % u.size == 0) return std::to_string(n / u.size) + u.name;
  return std::to_string(n);
}

std::string duration_text(uint64_t ns) {
  if (ns % 1000000000ull == 0) return std::to_string(ns / 1000000000ull) + "s";
  if (ns % 1000000ull == 0) return std::to_string(ns / 1000000ull) + "ms";
  return std::to_string(ns / 1000ull) + "us";
}

std::string prob_text(uint32_t billionths) {
  if (billionths >= kProbOne) return "1";
  char digits[16];
  std::snprintf(digits, sizeof digits, "%09u", billionths);
  std::string s = std::string("0.") + digits;
  while (s.back() == '0') s.pop_back();
  return s;
}

std::string nth_text(const Rule& r) {
  std::string s = std::to_string(r.nth_lo);
  if (r.nth_hi != r.nth_lo) s += ".." + (r.nth_hi ? std::to_string(r.nth_hi) : std::string());
  return s;
}

std::string ports_text(uint16_t lo, uint16_t hi) {
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

// A string value, quoted when it holds a character that would end it.
std::string string_text(std::string_view s) {
  bool plain = !s.empty() && s.front() != '"';
  for (char c : s) plain = plain && !ends_value(c) && c != '\\' && c != '#';
  if (plain) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string address_text(int family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family, addr, buf, sizeof buf);
  return buf;
}

std::string normal_form(const Rule& r) {
  std::string s = r.target;
  s += ':';
  switch (r.action) {
    case RuleAction::error: s += std::string("error=") + code_name(r.error_code_kind, r.error_code); break;
    case RuleAction::short_transfer: s += "short=" + size_text(r.bytes); break;
    case RuleAction::delay:
      s += "delay=" + duration_text(r.wait_ns);
      if (r.wait_hi_ns) s += ".." + duration_text(r.wait_hi_ns);
      if (r.wait_sd_ns) s += "~" + duration_text(r.wait_sd_ns);
      break;
    case RuleAction::eof: s += "eof"; break;
    case RuleAction::reset: s += "reset"; break;
    case RuleAction::close: s += "close"; break;
    case RuleAction::timeout: s += "timeout=" + duration_text(r.wait_ns); break;
    case RuleAction::bandwidth: s += "bandwidth=" + size_text(r.bytes) + "/s"; break;
    case RuleAction::drop: s += "drop"; break;
    case RuleAction::duplicate: s += "duplicate"; break;
    case RuleAction::reorder: s += "reorder=" + (r.reorder_n ? std::to_string(r.reorder_n) : duration_text(r.wait_ns)); break;
    case RuleAction::truncate: s += "truncate=" + size_text(r.bytes); break;
    case RuleAction::stall: s += r.wait_ns ? "stall=" + duration_text(r.wait_ns) : std::string("stall"); break;
    case RuleAction::slow_close: s += "slow_close=" + duration_text(r.wait_ns); break;
  }
  uint32_t f = r.filters;
  bool port_in_peer = false;
  if (f & rf_peer) {
    s += ":peer=";
    if (r.peer_family == AF_UNIX) {
      s += string_text(r.peer_path);
    } else {
      std::string a = address_text(r.peer_family, r.peer_addr);
      s += r.peer_family == AF_INET6 ? "[" + a + "]" : a;
      port_in_peer = (f & rf_port) && r.port_lo == r.port_hi;
      if (port_in_peer) s += ":" + std::to_string(r.port_lo);
    }
  }
  if (f & rf_net) s += ":net=" + address_text(r.net_family, r.net_addr) + "/" + std::to_string(r.net_bits);
  if ((f & rf_port) && !port_in_peer) s += ":port=" + ports_text(r.port_lo, r.port_hi);
  if (f & rf_lport) s += ":lport=" + ports_text(r.lport_lo, r.lport_hi);
  if (f & rf_host) s += ":host=" + string_text(r.host);
  if (f & rf_kind) s += std::string(":kind=") + kKindNames[static_cast<unsigned>(r.kind)];
  if (f & rf_prog) s += ":prog=" + string_text(r.prog);
  if (f & rf_after_bytes) s += ":after_bytes=" + size_text(r.after_bytes);
  if (f & rf_after) s += ":after=" + duration_text(r.after_ns);
  if (f & rf_since_start) s += ":since_start=" + duration_text(r.since_start_ns);
  if (f & rf_nth) s += ":nth=" + nth_text(r);
  if (f & rf_every) s += ":every=" + std::to_string(r.every);
  if (f & rf_prob) s += ":prob=" + prob_text(r.prob);
  if (f & rf_times) s += ":times=" + std::to_string(r.times);
  return s;
}

}  // namespace rule_lang

std::string format_rules(const RuleSet& set) {
  std::string s;
  for (uint32_t i = 0; i < set.count; ++i) {
    s += set.rules[i].text;
    s += '\n';
  }
  return s;
}

}  // namespace sd
