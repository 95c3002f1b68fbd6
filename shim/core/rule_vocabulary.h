// The words of the rule language (grammar in rules.h): the calls and groups a
// rule names, the errors each call can really return, the keys (actions and
// filters) and which calls take them, the socket kinds, and the characters
// that make a word or end a value. Shared by the parser and the normal form.
#pragma once
#include <netdb.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "calls.h"
#include "rules.h"

namespace sd {
namespace rule_lang {

// ---- Calls and groups -------------------------------------------------------

using C = CallId;
constexpr uint64_t kInput = rule_calls_of(CallClass::recv);
constexpr uint64_t kOutput = rule_calls_of(CallClass::send);
constexpr uint64_t kIo = kInput | kOutput;
constexpr uint64_t kWait = rule_calls_of(CallClass::poll);

struct Target {
  const char* name;
  uint64_t calls;
};

// Names that cover more than their own call; every other call name covers itself.
constexpr Target kWideTargets[] = {
    {"accept", call_bit(C::accept) | call_bit(C::accept4)},
    {"poll", call_bit(C::poll) | call_bit(C::ppoll)},
    {"select", call_bit(C::select) | call_bit(C::pselect)},
    {"epoll_wait", call_bit(C::epoll_wait) | call_bit(C::epoll_pwait)},
    {"input", kInput},
    {"output", kOutput},
    {"io", kIo},
    {"wait", kWait},
    {"dns", call_bit(C::getaddrinfo)},
};
constexpr const char* kGroupNames[] = {"io", "input", "output", "wait", "dns"};

inline bool target_from_name(std::string_view word, const char** name, uint64_t* calls) {
  for (const Target& t : kWideTargets)
    if (word == t.name) {
      *name = t.name;
      *calls = t.calls;
      return true;
    }
  CallId c;
  if (!call_id_from_name(word, &c)) return false;
  *name = kRuleCallNames[static_cast<unsigned>(c)];
  *calls = call_bit(c);
  return true;
}

// ---- Errors each call can really return -------------------------------------
// On Linux, for a correct program: the network (ICMP errors, RST, timeouts),
// the peer, resources and signals. Program errors (EBADF, EFAULT, EINVAL,
// ENOTSOCK, EISCONN...) are left out: injecting them tests nothing real.

constexpr int kSocketErrs[] = {EACCES, EAFNOSUPPORT, EMFILE, ENFILE, ENOBUFS, ENOMEM, EPROTONOSUPPORT};
constexpr int kSocketpairErrs[] = {EAFNOSUPPORT, EMFILE, ENFILE, ENOMEM, EPROTONOSUPPORT};
// EAGAIN: a non-blocking unix connect to a full backlog. ENOENT: no such unix path.
// EPERM: a local firewall rule. EHOSTDOWN/EHOSTUNREACH/ENETUNREACH: ICMP errors.
constexpr int kConnectErrs[] = {EACCES,       EADDRINUSE, EADDRNOTAVAIL, EAGAIN,  ECONNREFUSED,
                                EHOSTDOWN,    EHOSTUNREACH, EINTR,       ENETUNREACH, ENOBUFS,
                                ENOENT,       EPERM,      ETIMEDOUT};
constexpr int kBindErrs[] = {EACCES, EADDRINUSE, EADDRNOTAVAIL, ENOENT, ENOMEM, ENOSPC, EROFS};
constexpr int kListenErrs[] = {EADDRINUSE};
// Linux's accept also passes on network errors pending on the new connection.
constexpr int kAcceptErrs[] = {EAGAIN,  ECONNABORTED, EHOSTDOWN, EHOSTUNREACH, EINTR,
                               EMFILE,  ENETDOWN,     ENETUNREACH, ENFILE,     ENOBUFS,
                               ENOMEM,  ENONET,       ENOPROTOOPT, EPERM,      EPROTO};
// ECONNREFUSED: a connected UDP socket after an ICMP port unreachable.
constexpr int kSendErrs[] = {EAGAIN,   ECONNREFUSED, ECONNRESET, EHOSTDOWN, EHOSTUNREACH,
                             EINTR,    EMSGSIZE,     ENETDOWN,   ENETUNREACH, ENOBUFS,
                             ENOMEM,   EPERM,        EPIPE,      ETIMEDOUT};
constexpr int kRecvErrs[] = {EAGAIN, ECONNREFUSED, ECONNRESET, EHOSTDOWN, EHOSTUNREACH,
                             EINTR,  ENETUNREACH,  ENOMEM,     ETIMEDOUT};
// ENOTCONN: shutdown of a connection the peer has already reset.
constexpr int kShutdownErrs[] = {ENOTCONN};
// ENOPROTOOPT: an option this kernel does not have.
constexpr int kGetsockoptErrs[] = {ENOMEM, ENOPROTOOPT};
constexpr int kSetsockoptErrs[] = {ENOBUFS, ENOMEM, ENOPROTOOPT, EPERM};
constexpr int kPollErrs[] = {EINTR, ENOMEM};
constexpr int kEpollErrs[] = {EINTR};
constexpr int kDnsErrs[] = {EAI_AGAIN, EAI_FAIL, EAI_NONAME};

struct ErrList {
  const int* codes;
  std::size_t count;
};
template <std::size_t N>
constexpr ErrList L(const int (&a)[N]) { return {a, N}; }

// close has none: on Linux the descriptor is released before anything can
// fail, so close of a socket returns 0 (EBADF only for a program error).
inline ErrList errors_of(CallId c) {
  switch (c) {
    case C::socket: return L(kSocketErrs);
    case C::socketpair: return L(kSocketpairErrs);
    case C::connect: return L(kConnectErrs);
    case C::bind: return L(kBindErrs);
    case C::listen: return L(kListenErrs);
    case C::accept: case C::accept4: return L(kAcceptErrs);
    case C::send: case C::sendto: case C::sendmsg: case C::sendmmsg: case C::write: case C::writev:
      return L(kSendErrs);
    case C::recv: case C::recvfrom: case C::recvmsg: case C::recvmmsg: case C::read: case C::readv:
      return L(kRecvErrs);
    case C::close: return {nullptr, 0};
    case C::shutdown: return L(kShutdownErrs);
    case C::getsockopt: return L(kGetsockoptErrs);
    case C::setsockopt: return L(kSetsockoptErrs);
    case C::poll: case C::ppoll: case C::select: case C::pselect: return L(kPollErrs);
    case C::epoll_wait: case C::epoll_pwait: return L(kEpollErrs);
    case C::getaddrinfo: return L(kDnsErrs);
    case C::count: break;
  }
  return {nullptr, 0};
}

inline bool error_allowed(CallId c, int code) {
  ErrList l = errors_of(c);
  for (std::size_t i = 0; i < l.count; ++i)
    if (l.codes[i] == code) return true;
  return false;
}

// ---- Keys --------------------------------------------------------------------

enum class Key : uint8_t {
  error, short_, delay, eof, reset, close_, timeout, bandwidth, drop, duplicate, reorder, truncate, stall, slow_close,
  peer, net, port, lport, host, kind, prog, after_bytes, after, since_start, nth, every, prob, times,
};
constexpr unsigned kKeyCount = 28;

enum class Value : uint8_t { none, optional, required };

struct KeyInfo {
  const char* name;
  Value value;
  uint32_t filter;      // RuleFilter bit; 0 for an action
  const char* example;  // shown when the value is missing or wrong
  const char* form;     // the key with what its value is, for lists of what a call takes
};

constexpr KeyInfo kKeys[kKeyCount] = {
    {"error", Value::required, 0, "error=ECONNREFUSED", "error=CODE"},
    {"short", Value::required, 0, "short=1", "short=SIZE"},
    {"delay", Value::required, 0, "delay=200ms, delay=100ms..300ms or delay=200ms~50ms", "delay=DURATION"},
    {"eof", Value::none, 0, "eof", "eof"},
    {"reset", Value::none, 0, "reset", "reset"},
    {"close", Value::none, 0, "close", "close"},
    {"timeout", Value::optional, 0, "timeout=5s", "timeout[=DURATION]"},
    {"bandwidth", Value::required, 0, "bandwidth=10KB/s", "bandwidth=SIZE/s"},
    {"drop", Value::none, 0, "drop", "drop"},
    {"duplicate", Value::none, 0, "duplicate", "duplicate"},
    {"reorder", Value::required, 0, "reorder=3 or reorder=20ms", "reorder=N|DURATION"},
    {"truncate", Value::required, 0, "truncate=64", "truncate=SIZE"},
    {"stall", Value::optional, 0, "stall or stall=30s", "stall[=DURATION]"},
    {"slow_close", Value::required, 0, "slow_close=2s", "slow_close=DURATION"},
    {"peer", Value::required, rf_peer, "peer=127.0.0.1, peer=[::1]:8080 or peer=/run/app.sock", "peer"},
    {"net", Value::required, rf_net, "net=10.0.0.0/8", "net"},
    {"port", Value::required, rf_port, "port=5432 or port=8000-8999", "port"},
    {"lport", Value::required, rf_lport, "lport=8080 or lport=8000-8999", "lport"},
    {"host", Value::required, rf_host, "host=db.internal or host=*.internal", "host"},
    {"kind", Value::required, rf_kind, "kind=tcp", "kind"},
    {"prog", Value::required, rf_prog, "prog=curl", "prog"},
    {"after_bytes", Value::required, rf_after_bytes, "after_bytes=4096 or after_bytes=1M", "after_bytes"},
    {"after", Value::required, rf_after, "after=2s", "after"},
    {"since_start", Value::required, rf_since_start, "since_start=10s", "since_start"},
    {"nth", Value::required, rf_nth, "nth=3, nth=2..5 or nth=4..", "nth"},
    {"every", Value::required, rf_every, "every=3", "every"},
    {"prob", Value::required, rf_prob, "prob=0.25 or prob=25%", "prob"},
    {"times", Value::required, rf_times, "times=1", "times"},
};

inline const KeyInfo& info(Key k) { return kKeys[static_cast<unsigned>(k)]; }
inline bool is_action(Key k) { return info(k).filter == 0; }

constexpr RuleAction kActionOfKey[] = {RuleAction::error, RuleAction::short_transfer, RuleAction::delay,
                                       RuleAction::eof,   RuleAction::reset,          RuleAction::close,
                                       RuleAction::timeout, RuleAction::bandwidth, RuleAction::drop,
                                       RuleAction::duplicate, RuleAction::reorder, RuleAction::truncate,
                                       RuleAction::stall, RuleAction::slow_close};

// Which actions apply to a call. error: those with a non-empty error list.
inline bool action_applies(RuleAction a, CallId c) {
  uint64_t b = call_bit(c);
  switch (a) {
    case RuleAction::error: return errors_of(c).count > 0;
    case RuleAction::delay: return true;
    case RuleAction::short_transfer:
    case RuleAction::close:
    case RuleAction::bandwidth:
    case RuleAction::drop:
    case RuleAction::duplicate:
    case RuleAction::reorder:
    case RuleAction::truncate: return (kIo & b) != 0;
    case RuleAction::stall: return (kIo & b) != 0;
    case RuleAction::slow_close: return c == C::close || c == C::shutdown;
    case RuleAction::eof: return (kInput & b) != 0;
    case RuleAction::reset: return ((kIo | call_bit(C::close)) & b) != 0;
    case RuleAction::timeout: return c == C::connect;
  }
  return false;
}

constexpr uint32_t kAnyCall = rf_prog | rf_since_start | rf_nth | rf_every | rf_prob | rf_times;
constexpr uint32_t kOnConnection =
    rf_peer | rf_net | rf_port | rf_lport | rf_host | rf_kind | rf_after_bytes | rf_after;

// Which filters can be known at a call; others would never match there.
inline uint32_t filters_for(CallId c) {
  switch (c) {
    case C::socket: case C::socketpair: return kAnyCall | rf_kind;
    case C::connect: return kAnyCall | rf_peer | rf_net | rf_port | rf_lport | rf_host | rf_kind;
    case C::bind: case C::listen: return kAnyCall | rf_lport | rf_kind;
    case C::accept: case C::accept4: return kAnyCall | rf_peer | rf_net | rf_port | rf_lport | rf_kind;
    case C::poll: case C::ppoll: case C::select: case C::pselect: case C::epoll_wait: case C::epoll_pwait:
      return kAnyCall;
    case C::getaddrinfo: return kAnyCall | rf_host;
    default: return kAnyCall | kOnConnection;
  }
}

// What a call takes, for messages: its actions ("error=CODE, delay=DURATION")
// or its filters ("peer, port, ...").
inline std::string takes(CallId c, bool actions) {
  std::string s;
  for (unsigned k = 0; k < kKeyCount; ++k) {
    Key key = static_cast<Key>(k);
    if (is_action(key) != actions) continue;
    bool ok = actions ? action_applies(kActionOfKey[k], c) : (filters_for(c) & info(key).filter) != 0;
    if (!ok) continue;
    if (!s.empty()) s += ", ";
    s += info(key).form;
  }
  return std::string(call_id_name(c)) + (actions ? " takes the actions: " : " takes the filters: ") + s;
}

// ---- Kinds -------------------------------------------------------------------

constexpr const char* kKindNames[] = {"any", "tcp", "udp", "unix", "ipv4", "ipv6", "tcp4", "tcp6", "udp4", "udp6"};

inline bool kind_is_udp(RuleKind k) { return k == RuleKind::udp || k == RuleKind::udp4 || k == RuleKind::udp6; }
inline bool kind_is_v4(RuleKind k) { return k == RuleKind::ipv4 || k == RuleKind::tcp4 || k == RuleKind::udp4; }
inline bool kind_is_tcp(RuleKind k) { return k == RuleKind::tcp || k == RuleKind::tcp4 || k == RuleKind::tcp6; }
inline bool kind_is_v6(RuleKind k) { return k == RuleKind::ipv6 || k == RuleKind::tcp6 || k == RuleKind::udp6; }

// ---- Characters of the language ---------------------------------------------

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}
inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
// Where a value ends when it is not quoted. '#' is not among them: it starts
// a comment only after a blank or where a rule may start, so "/tmp/a#b" is a path.
inline bool ends_value(char c) { return is_blank(c) || c == ':' || c == ';' || c == '\n'; }

}  // namespace rule_lang
}  // namespace sd
