#include "strace_rules.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "calls.h"
#include "escape.h"

namespace sdcli {

namespace {

using sd::CallId;
using sd::Rule;
using sd::RuleAction;

// The system calls glibc 2.36 makes on x86_64 for each rule call (checked
// with strace): recv and send are recvfrom and sendto, select and pselect
// both pselect6 (musl's select is the select system call, hence both).
struct CallSyscalls {
  CallId call;
  std::vector<std::string> syscalls;
};
const std::vector<CallSyscalls>& call_syscalls() {
  static const std::vector<CallSyscalls> table = {
      {CallId::socket, {"socket"}},           {CallId::socketpair, {"socketpair"}},
      {CallId::connect, {"connect"}},         {CallId::bind, {"bind"}},
      {CallId::listen, {"listen"}},           {CallId::accept, {"accept"}},
      {CallId::accept4, {"accept4"}},         {CallId::send, {"sendto"}},
      {CallId::sendto, {"sendto"}},           {CallId::sendmsg, {"sendmsg"}},
      {CallId::sendmmsg, {"sendmmsg"}},       {CallId::write, {"write"}},
      {CallId::writev, {"writev"}},           {CallId::recv, {"recvfrom"}},
      {CallId::recvfrom, {"recvfrom"}},       {CallId::recvmsg, {"recvmsg"}},
      {CallId::recvmmsg, {"recvmmsg"}},       {CallId::read, {"read"}},
      {CallId::readv, {"readv"}},             {CallId::close, {"close"}},
      {CallId::shutdown, {"shutdown"}},       {CallId::getsockopt, {"getsockopt"}},
      {CallId::setsockopt, {"setsockopt"}},   {CallId::poll, {"poll"}},
      {CallId::ppoll, {"ppoll"}},             {CallId::select, {"select", "pselect6"}},
      {CallId::pselect, {"pselect6"}},        {CallId::epoll_wait, {"epoll_wait"}},
      {CallId::epoll_pwait, {"epoll_pwait"}}, {CallId::getaddrinfo, {}},
  };
  return table;
}

bool names(const Rule& r, CallId c) { return (r.calls & sd::call_bit(c)) != 0; }

// The rule's calls in CallId order, as "recv, recvfrom".
std::string call_list(uint64_t calls) {
  std::string out;
  for (unsigned i = 0; i < sd::kRuleCallCount; ++i)
    if (calls & sd::call_bit(static_cast<CallId>(i)))
      out += (out.empty() ? "" : ", ") + std::string(sd::call_id_name(static_cast<CallId>(i)));
  return out;
}

std::string join(const std::vector<std::string>& words, const char* sep) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

// Why a filter cannot be carried: strace picks calls by system call and
// call number only.
const char* filter_reason(uint32_t filters) {
  if (filters & (sd::rf_peer | sd::rf_net | sd::rf_port | sd::rf_lport | sd::rf_host | sd::rf_kind))
    return "strace injects into every call of a system call, whatever its socket: it has no filter by peer, "
           "net, port, lport, host or kind";
  if (filters & sd::rf_prog) return "strace injects into every process it traces: it has no filter by program";
  if (filters & sd::rf_after_bytes) return "strace counts calls, not bytes: it has no after_bytes";
  if (filters & (sd::rf_after | sd::rf_since_start))
    return "strace counts calls, not time: it has no after or since_start";
  if (filters & sd::rf_prob) return "strace has no random choice (prob): its when= picks calls by number";
  return nullptr;
}
constexpr uint32_t kCountFilters = sd::rf_nth | sd::rf_every | sd::rf_times;

// Why an action cannot be carried: strace only fails or delays a call.
const char* action_reason(RuleAction a) {
  switch (a) {
    case RuleAction::short_transfer: return "strace cannot cut a transfer short (it fails or delays whole calls)";
    case RuleAction::eof: return "strace cannot end a stream (it fails or delays whole calls)";
    case RuleAction::close: return "strace cannot close a connection (it fails or delays whole calls)";
    case RuleAction::bandwidth: return "strace cannot pace a connection (it fails or delays whole calls)";
    case RuleAction::drop:
    case RuleAction::duplicate:
    case RuleAction::reorder:
    case RuleAction::truncate:
      return "strace cannot drop, duplicate, reorder or cut a datagram (it fails or delays whole calls)";
    case RuleAction::stall: return "strace cannot stall a connection (it fails or delays whole calls, with a fixed end)";
    case RuleAction::slow_close:
      return "strace cannot delay a close's FIN (it fails or delays whole calls; a delayed close blocks the program)";
    case RuleAction::reset:
      return "strace cannot abort a connection (no RST reaches the peer); error=ECONNRESET fails the call "
             "instead (approximate)";
    default: return nullptr;
  }
}

// Errors after which the library aborts the connection (shim/preload/inject.cpp,
// is_dead_connection_error): strace only fails the call and leaves it up.
bool ends_connection(int err) {
  return err == ECONNRESET || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH || err == EPIPE ||
         err == ECONNABORTED;
}

// "200ms", "5s", "1500us": strace's time format, whole microseconds.
std::string strace_duration(uint64_t ns) {
  uint64_t us = ns / 1000;
  char buf[32];
  if (us % 1000000 == 0)
    std::snprintf(buf, sizeof buf, "%" PRIu64 "s", us / 1000000);
  else if (us % 1000 == 0)
    std::snprintf(buf, sizeof buf, "%" PRIu64 "ms", us / 1000);
  else
    std::snprintf(buf, sizeof buf, "%" PRIu64 "us", us);
  return buf;
}

// strace's when= bounds: first and step 1..65535, last 1..65534.
constexpr uint64_t kWhenMax = 65535;
constexpr uint64_t kWhenLastMax = 65534;

// The when= expression of the rule's counts: the call numbers n with
// nth_lo <= n <= nth_hi and n % every == 0, the first `times` of them,
// i.e. first, first+step... up to last. "" for every call.
struct When {
  Mapping mapping = Mapping::exact;
  std::string expr;
  std::string reason;
};
When when_of(const Rule& r) {
  When w;
  if ((r.filters & kCountFilters) == 0) return w;
  const uint64_t lo = (r.filters & sd::rf_nth) ? r.nth_lo : 1;
  const uint64_t step = (r.filters & sd::rf_every) ? r.every : 1;
  uint64_t hi = (r.filters & sd::rf_nth) ? r.nth_hi : 0;  // 0: no end
  // The parser refuses a rule whose nth range holds no multiple of every.
  const uint64_t first = (lo + step - 1) / step * step;
  if (r.filters & sd::rf_times) {
    // The times-th call number from first; beyond any bound when it overflows.
    uint64_t span = r.times - 1;
    uint64_t last = span > (UINT64_MAX - first) / step ? UINT64_MAX : first + span * step;
    if (hi == 0 || last < hi) hi = last;
  }
  if (first > kWhenMax || step > kWhenMax) {
    w.mapping = Mapping::none;
    w.reason = "strace's when= counts to 65535 at most (first call " + std::to_string(first) + ", step " +
               std::to_string(step) + ")";
    return w;
  }
  if (hi > kWhenLastMax && hi >= first + step) {  // a single call is `when=FIRST`, up to 65535
    // The calls past 65534 are the only ones lost: approximate, not refused.
    w.mapping = Mapping::approximate;
    w.reason = "strace's when= ends at call 65534 at most: the calls numbered 65535 to " + std::to_string(hi) +
               " are not injected";
    hi = std::max(first, kWhenLastMax);
  }
  const std::string f = std::to_string(first);
  if (hi != 0 && hi < first + step)
    w.expr = f;
  else if (step == 1)
    w.expr = hi == 0 ? (first == 1 ? "" : f + "+") : f + ".." + std::to_string(hi);
  else
    w.expr = f + (hi == 0 ? "" : ".." + std::to_string(hi)) + "+" + std::to_string(step);
  return w;
}

RuleMapping refuse(RuleMapping m, std::string reason) {
  m.mapping = Mapping::none;
  m.reason = std::move(reason);
  m.inject.clear();
  m.syscalls.clear();
  return m;
}

// One rule, before looking at the others (two rules on one system call).
RuleMapping map_rule(const Rule& r, bool multithreaded) {
  RuleMapping m;
  m.rule = r.text;
  constexpr uint64_t kFileCalls = sd::call_bit(CallId::read) | sd::call_bit(CallId::write) |
                                  sd::call_bit(CallId::readv) | sd::call_bit(CallId::writev);
  if (names(r, CallId::getaddrinfo))
    return refuse(m, "getaddrinfo runs inside the program (libc), not in the kernel: strace sees only the "
                     "system calls it makes");
  if (r.calls & kFileCalls)
    return refuse(m, "read, write, readv and writev are also the system calls on files, pipes and terminals (and "
                     "all of Go's socket I/O): strace cannot keep to sockets");
  // slow_close names close only: its own reason says more than close's.
  if (r.action == RuleAction::slow_close) return refuse(m, action_reason(r.action));
  if (names(r, CallId::close))
    return refuse(m, "close is also the system call on files and pipes: strace cannot keep to sockets");
  if (const char* why = action_reason(r.action)) return refuse(m, why);
  if (r.wait_hi_ns || r.wait_sd_ns) return refuse(m, "strace delays every call by one fixed time: it has no jitter");
  if (const char* why = filter_reason(r.filters)) return refuse(m, why);
  When when = when_of(r);
  if (when.mapping == Mapping::none) return refuse(m, when.reason);

  // The system calls, and whether they carry calls the rule does not name.
  uint64_t sharing = 0;
  for (const CallSyscalls& cs : call_syscalls()) {
    if (!names(r, cs.call)) continue;
    for (const std::string& s : cs.syscalls)
      if (std::find(m.syscalls.begin(), m.syscalls.end(), s) == m.syscalls.end()) m.syscalls.push_back(s);
  }
  for (const CallSyscalls& cs : call_syscalls())
    if (!names(r, cs.call))
      for (const std::string& s : cs.syscalls)
        if (std::find(m.syscalls.begin(), m.syscalls.end(), s) != m.syscalls.end()) sharing |= sd::call_bit(cs.call);

  std::vector<std::string> approx;  // every reason the result is approximate
  if (when.mapping == Mapping::approximate) approx.push_back(when.reason);
  if (sharing)
    approx.push_back("strace cannot tell " + call_list(r.calls) + " from " + call_list(sharing) + " (both are " +
                     join(m.syscalls, ", ") + "): it injects into both, and counts them together");
  const bool counts = !when.expr.empty();
  if (counts && m.syscalls.size() > 1)
    approx.push_back("strace counts each system call apart (" + join(m.syscalls, ", ") + "): nth, every and times "
                     "number the calls of each");
  if (counts && multithreaded)
    approx.push_back("strace counts each thread's calls apart: nth, every and times number the calls of each thread");

  std::string inject = join(m.syscalls, ",");
  switch (r.action) {
    case RuleAction::error: {
      const int err = r.error_code;
      if (err <= 0 || err > 4095) return refuse(m, "error code outside strace's 1..4095");  // parser never gives one
      inject += ":error=" + std::string(sd::code_name(sd::CodeKind::errno_code, err));
      const bool connect = names(r, CallId::connect);
      if (connect && err == EINTR)
        approx.push_back("an interrupted connect is not started: the handshake does not go on in the kernel, and "
                         "the next connect starts anew");
      else if (connect && multithreaded)
        approx.push_back("a non-blocking connect (every one of Go's) fails at once, not through poll and SO_ERROR");
      if ((r.calls & (sd::rule_calls_of(sd::CallClass::send) | sd::rule_calls_of(sd::CallClass::recv))) &&
          ends_connection(err))
        approx.push_back("the connection stays up: no RST reaches the peer, and the next calls on it work");
      if (names(r, CallId::shutdown) && err == ENOTCONN)
        approx.push_back("the connection stays up: no reset is left pending for the next calls");
      break;
    }
    case RuleAction::delay:
      inject += ":delay_enter=" + strace_duration(r.wait_ns);
      if (r.calls & sd::rule_calls_of(sd::CallClass::recv))
        approx.push_back("the read waits, not the data: poll, select and epoll report the input ready at once");
      break;
    case RuleAction::timeout:
      inject += ":error=ETIMEDOUT:delay_enter=" + strace_duration(r.wait_ns);
      if (multithreaded)
        approx.push_back("a non-blocking connect (every one of Go's) waits in the call and fails at once, not "
                         "through poll and SO_ERROR; the program's own deadline cannot cut the wait");
      break;
    default:
      return refuse(m, "this action has no strace form");
  }
  if (counts) inject += ":when=" + when.expr;
  m.inject = inject;
  m.mapping = approx.empty() ? Mapping::exact : Mapping::approximate;
  m.reason = join(approx, "; ");
  return m;
}

}  // namespace

std::vector<RuleMapping> map_rules(const sd::RuleSet* rules, bool multithreaded) {
  std::vector<RuleMapping> out;
  if (!rules) return out;
  // strace keeps one injection per system call (a later -e inject naming it
  // replaces the earlier): rules that would compose on a call in the library
  // (rules.h, RuleStage) cannot there, so a second rule on a system call is
  // refused rather than run as something else.
  std::vector<std::pair<std::string, std::string>> taken;  // system call, rule
  for (uint32_t i = 0; i < rules->count; ++i) {
    RuleMapping m = map_rule(rules->rules[i], multithreaded);
    std::string conflict;
    for (const std::string& s : m.syscalls) {
      auto it = std::find_if(taken.begin(), taken.end(), [&](const auto& t) { return t.first == s; });
      if (it != taken.end() && conflict.empty())
        conflict = "the rule " + sd::quoted(it->second) + " already injects into " + s +
                   ": strace keeps one injection per system call, so rules cannot compose there";
    }
    if (!conflict.empty()) m = refuse(std::move(m), std::move(conflict));
    for (const std::string& s : m.syscalls) taken.emplace_back(s, m.rule);
    out.push_back(std::move(m));
  }
  return out;
}

const char* mapping_name(Mapping m) {
  switch (m) {
    case Mapping::exact: return "exact";
    case Mapping::approximate: return "approximate";
    case Mapping::none: return "not mappable";
  }
  return "?";
}

bool all_mappable(const std::vector<RuleMapping>& mappings) {
  return std::none_of(mappings.begin(), mappings.end(), [](const RuleMapping& m) { return m.mapping == Mapping::none; });
}

std::vector<std::string> refusal_lines(const std::vector<RuleMapping>& mappings) {
  std::vector<std::string> out;
  for (const RuleMapping& m : mappings)
    if (m.mapping == Mapping::none) out.push_back("rule " + sd::quoted(m.rule) + " cannot run under strace: " + m.reason);
  return out;
}

bool counts_calls(const std::vector<RuleMapping>& mappings) {
  return std::any_of(mappings.begin(), mappings.end(),
                     [](const RuleMapping& m) { return m.inject.find(":when=") != std::string::npos; });
}

std::vector<std::string> warning_lines(const std::vector<RuleMapping>& mappings, bool multithreaded) {
  std::vector<std::string> out;
  for (const RuleMapping& m : mappings)
    if (m.mapping == Mapping::approximate)
      out.push_back("rule " + sd::quoted(m.rule) + " is approximate under strace: " + m.reason);
  if (counts_calls(mappings) && !multithreaded) out.push_back(kPerThreadCounts);
  return out;
}

std::vector<std::string> inject_syscalls(const std::vector<RuleMapping>& mappings) {
  std::vector<std::string> out;
  for (const RuleMapping& m : mappings)
    for (const std::string& s : m.syscalls)
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return out;
}

}  // namespace sdcli
