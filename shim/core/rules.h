// Fault-injection rules: the language of SOCKDIAG_INJECT (and of the
// `inject = RULE` lines of a SOCKDIAG_CONFIG file), its parser, its normal
// form, and the matcher the hooks ask on every intercepted call.
// tools/INJECT.md says the same for users, with examples.
//
// Grammar
//   rules    = [rule] { sep [rule] }      empty rules (";;", blank lines) are ignored
//   sep      = ";" | newline
//   rule     = target { ":" part }        exactly one part is an action
//   target   = call | group
//   part     = action | filter
//   action   = "error=" CODE              errno name or number; EAI_AGAIN|EAI_NONAME|EAI_FAIL for dns
//            | "short=" SIZE              at most SIZE bytes per call (io)
//            | "delay=" DELAY             wait, then make the real call (every call); input
//                                         arrives that late instead (inject_readiness.h)
//            | "eof"                      the call returns 0, and so does every later one (input)
//            | "reset"                    abort the connection: the peer gets an RST (io, close)
//            | "close"                    close the connection in order: the peer gets a FIN, reads
//                                         here end, writes fail with EPIPE (io)
//            | "timeout" ["=" DURATION]   wait (default 127s, Linux's SYN retries), then ETIMEDOUT (connect)
//            | "bandwidth=" SIZE ["/s"]   at most SIZE bytes per second on each connection (io)
//            | "drop"                     the datagram is lost: a send says it went, a read never
//                                         sees it (io on datagram sockets, inject_datagram.h)
//            | "duplicate"                the datagram arrives twice (io, datagrams)
//            | "reorder=" N | DURATION    the datagram is held back until N later datagrams
//                                         passed, or for DURATION (io, datagrams)
//            | "truncate=" SIZE           the datagram is cut to its first SIZE bytes (io, datagrams)
//            | "stall" ["=" DURATION]     the connection stops carrying data in the rule's direction
//                                         (input, output or both), with no error; with a DURATION,
//                                         it is then reset, as a dropped flow is (io, streams)
//            | "slow_close=" DURATION     the peer sees the close (FIN) that late (close, shutdown)
//   filter   = "peer=" ADDRESS            IPv4 "10.1.2.3", IPv6 "[::1]", either with ":PORT"
//                                         ("[::1]:5432"), unix path "/run/x.sock" or "@abstract"
//            | "net=" CIDR                "10.0.0.0/8", "fd00::/8" (host bits must be zero)
//            | "port=" PORTS              the peer's port: "5432" or a range "8000-8999"
//            | "lport=" PORTS             the local port, same form
//            | "host=" GLOB               the name the program gave getaddrinfo ("*.internal")
//            | "kind=" KIND               tcp udp unix ipv4 ipv6 tcp4 tcp6 udp4 udp6
//            | "prog=" GLOB               the program's name ("curl", "python3*")
//            | "after_bytes=" SIZE        once the connection carried SIZE bytes (see MatchInput);
//                                         exact on streams: the call crossing SIZE is cut at it
//            | "after=" DURATION          once the connection is that old
//            | "since_start=" DURATION    once the process has run that long
//            | "nth=" N | N ".." M | N ".."   the rule's N-th call, N-th to M-th, N-th on (from 1)
//            | "every=" K                 the rule's calls number K, 2K, 3K...
//            | "prob=" P                  with probability P: "0.25" or "25%" (0 < P <= 1)
//            | "times=" K                 at most K injections by this rule
//   SIZE     = digits [B | K | KiB | KB | kB | M | MiB | MB | G | GiB | GB]   K=1024, KB=1000
//   DURATION = digits ["." digits] (us | ms | s)     whole microseconds, at most 24h
//   DELAY    = DURATION                  that long
//            | DURATION ".." DURATION    any time in the range, evenly (jitter; the first is shorter)
//            | DURATION "~" DURATION     a normal distribution: mean ~ standard deviation, cut
//                                        at 0 and at 6 deviations from the mean
//   GLOB     = "*" any run, "?" any one character; host globs ignore case
// Blanks may stand around ";", ":" and "="; "#" where a rule may start or
// after a blank starts a comment to the end of the line (inside a value it is
// a character). A value holding ":", ";", '"', "\\" or a blank is written in
// double quotes, with \" and \\ inside. Each key appears once per rule; every
// number is at least 1; error names ignore case.
//
// Normal form (format_rules, Rule::text): target, action, then the filters in
// the order above, each value spelt one way (error=111 -> error=ECONNREFUSED,
// 4096 -> 4K, 1.5s -> 1500ms, 25% -> 0.25); it parses back to itself.
//
// Calls and groups. A call name covers its libc function, the fortified
// __NAME_chk variant, and the variants that only add a flags or signal-mask
// argument: accept = accept+accept4, poll = poll+ppoll, select =
// select+pselect, epoll_wait = epoll_wait+epoll_pwait (accept4, ppoll,
// pselect, epoll_pwait name only themselves). Groups:
//   input  = recv recvfrom recvmsg recvmmsg read readv
//   output = send sendto sendmsg sendmmsg write writev
//   io     = input + output
//   wait   = poll ppoll select pselect epoll_wait epoll_pwait
//   dns    = getaddrinfo
// Rules act on sockets only (a file's or a pipe's read, write or close is
// never matched), and getaddrinfo rules on lookups that would ask DNS only
// (dns_scope.h; a name from /etc/hosts only for a rule with host=).
//
// Errors. A text with one error is refused whole, with one line:
//   "SOURCE, column C: ..." (or "SOURCE line L, column C" for a text of several
//   lines, "FILE:L, column C" for a file); columns count bytes from 1.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "calls.h"
#include "explain.h"

namespace sd {

struct InjectionTally;

// The calls a rule can name (CallId) are hooks.def's `named` rows (calls.h);
// the hooks map their functions to them (__recv_chk -> recv, ...).
bool call_id_from_name(std::string_view, CallId* out);

// The errnos (or EAI_ codes for getaddrinfo) that `error=` accepts for a
// call: those a correct program can meet from its environment (network,
// peer, resources, signals), in name order. `code_kind` says which kind.
const int* allowed_errors(CallId, CodeKind* code_kind, std::size_t* count);

enum class RuleAction : uint8_t {
  error, short_transfer, delay, eof, reset, timeout, bandwidth, close,
  drop, duplicate, reorder, truncate,  // datagrams only (inject_datagram.h)
  stall, slow_close,                   // streams only (inject_stall.h, inject_slow_close.h)
};
constexpr bool is_datagram_action(RuleAction a) {
  return a == RuleAction::drop || a == RuleAction::duplicate || a == RuleAction::reorder || a == RuleAction::truncate;
}
const char* rule_action_name(RuleAction);

// When a rule acts on a call that several rules match (they compose,
// tools/INJECT.md "Rules that compose"): first every wait (the delays, in
// rule order, added up; then the bandwidth wait), then the limits on size
// (short and bandwidth slices: the smallest wins), then at most one ending
// (the first in rule order). bandwidth waits and limits: its stage is
// `wait`, and the limit stage takes its slice too. A new action is one new
// case here and one in the stage's apply function (shim/preload/inject.cpp).
enum class RuleStage : uint8_t { wait, limit, end };
constexpr RuleStage rule_stage(RuleAction a) {
  switch (a) {
    case RuleAction::delay:
    case RuleAction::bandwidth: return RuleStage::wait;
    case RuleAction::short_transfer: return RuleStage::limit;
    case RuleAction::error:
    case RuleAction::eof:
    case RuleAction::reset:
    case RuleAction::timeout:
    case RuleAction::close:
    // What becomes of the datagram (inject_datagram.h): one per call.
    case RuleAction::drop:
    case RuleAction::duplicate:
    case RuleAction::reorder:
    case RuleAction::truncate:
    // The connection stops carrying data; the peer's FIN comes late.
    case RuleAction::stall:
    case RuleAction::slow_close: return RuleStage::end;
  }
  return RuleStage::end;
}

enum class RuleKind : uint8_t { any, tcp, udp, unix_socket, ipv4, ipv6, tcp4, tcp6, udp4, udp6 };

// Which filters a rule has (Rule::filters).
enum RuleFilter : uint32_t {
  rf_peer = 1u << 0, rf_net = 1u << 1, rf_port = 1u << 2, rf_lport = 1u << 3,
  rf_host = 1u << 4, rf_kind = 1u << 5, rf_prog = 1u << 6, rf_after_bytes = 1u << 7,
  rf_after = 1u << 8, rf_since_start = 1u << 9, rf_nth = 1u << 10, rf_every = 1u << 11,
  rf_prob = 1u << 12, rf_times = 1u << 13,
};

constexpr uint64_t kDefaultConnectTimeoutNs = 127'000'000'000ull;
constexpr uint32_t kProbOne = 1'000'000'000u;  // prob is kept in billionths
constexpr unsigned kMaxRules = 1000;
constexpr uint64_t kMaxReorderCount = 1000;  // reorder=N: at most this many datagrams overtake one

// One rule, immutable once parsed. Strings point into the RuleSet.
struct Rule {
  uint32_t index = 0;          // position in the set, from 0
  const char* text = "";       // the rule in normal form (records, summary)
  const char* target = "";     // the call or group as written in normal form
  uint64_t calls = 0;          // call_bit() of every call the rule names

  RuleAction action = RuleAction::error;
  CodeKind error_code_kind = CodeKind::errno_code;  // error
  int error_code = 0;
  uint64_t bytes = 0;          // short: bytes per call; bandwidth: bytes per second; truncate: bytes kept
  uint64_t wait_ns = 0;        // delay, timeout, reorder=DURATION, slow_close; a jittered delay's shortest
                               //   time or mean; stall: the reset after it (0: none)
  uint64_t reorder_n = 0;      // reorder=N: the later datagrams to let pass first; else 0
  uint64_t wait_hi_ns = 0;     // delay=A..B: B (wait_ns is A); else 0
  uint64_t wait_sd_ns = 0;     // delay=M~S: S, the standard deviation (wait_ns is M); else 0

  uint32_t filters = 0;        // RuleFilter bits
  int peer_family = 0;         // AF_INET, AF_INET6 or AF_UNIX
  uint8_t peer_addr[16] = {};  // IPv4 in the first 4 bytes
  const char* peer_path = "";  // AF_UNIX: a path, or "@name" for the abstract namespace
  int net_family = 0;
  uint8_t net_addr[16] = {};
  unsigned net_bits = 0;
  uint16_t port_lo = 0, port_hi = 0;
  uint16_t lport_lo = 0, lport_hi = 0;
  const char* host = "";       // lower case
  const char* prog = "";
  RuleKind kind = RuleKind::any;
  uint64_t after_bytes = 0;
  uint64_t after_ns = 0;
  uint64_t since_start_ns = 0;
  uint64_t nth_lo = 0, nth_hi = 0;  // nth_hi 0: no upper end
  uint64_t every = 0;
  uint32_t prob = 0;           // billionths
  uint64_t times = 0;
};

// Per-rule counters, changed by every thread without locks. One cache line
// each so that threads hammering one rule do not slow the others.
struct alignas(64) RuleCounters {
  std::atomic<uint64_t> seen{0};      // calls counted for nth/every/prob (match_rules step 2)
  std::atomic<uint64_t> injected{0};  // calls the rule acted on (match_rules step 5)
  std::atomic<uint8_t> prog_state{0}; // prog filter, decided once: 0 unknown, 1 yes, 2 no
};

// A parsed rule set. Allocated by RuleParser::finish and, in the library,
// never freed: hooks may run from atexit handlers and static destructors.
struct RuleSet {
  uint64_t call_mask = 0;       // call_bit(c) set: at least one rule names c
  uint64_t seed = 0;            // for prob; set from Config::seed or seed_from_clock(), then
                                //   the library makes it this process's own (process_seed)
  uint32_t count = 0;
  const Rule* rules = nullptr;
  RuleCounters* counters = nullptr;
  // The rules naming call c, in rule order: by_call[first[c]] .. by_call[first[c + 1] - 1].
  uint32_t first[kRuleCallCount + 1] = {};
  // For call c, one bit (peer_bit) per IPv4/IPv6 address that a `peer=`
  // filter of its rules names: a call whose peer's bit is clear skips those
  // rules without comparing addresses (many peer rules, none matching, is
  // the common case of a targeted setup).
  uint64_t peer_bloom[kRuleCallCount] = {};
  // call_bit(c) set: every rule naming c has such a peer filter, so a call
  // whose peer misses the bloom matches nothing (checked before gathering
  // anything else about the call).
  uint64_t peer_only_mask = 0;
  const uint16_t* by_call = nullptr;
  char* strings = nullptr;      // every string the rules point to
  // Where each injection is also tallied by call and peer (injection_tally.h:
  // a control file's table; nullptr: nowhere), rule i's entries keyed by
  // tally_base + i. Never part of a rule image.
  InjectionTally* tally = nullptr;
  uint32_t tally_base = 0;
};

// Builds a RuleSet from one or several texts (the variable, then each
// `inject =` line of a config file), so each error names its own source.
class RuleParser {
 public:
  // Parses `text` and appends its rules. `source` names the text in errors
  // ("SOCKDIAG_INJECT", "/etc/app.conf"); `line` > 0 says the text is that
  // line of a file, starting at `first_column` of it (after "inject ="), so
  // that columns count from the start of the file's line. On error sets
  // `*error` to one line and returns false; the caller then refuses the
  // whole set.
  bool add(std::string_view text, std::string_view source, unsigned line, std::string* error,
           unsigned first_column = 1);
  // The set of all rules added so far (possibly empty). Caller owns it.
  RuleSet* finish();

 private:
  std::vector<Rule> rules_;
  std::deque<std::string> strings_;  // what the drafts point to, until finish()
};

// One text from one source: RuleParser::add then finish, or nullptr.
RuleSet* parse_rules(std::string_view text, std::string_view source, std::string* error);
// For tests and `sockdiag check`; the library keeps its set to the end.
void free_rules(RuleSet*);
// The whole set in normal form, one rule a line.
std::string format_rules(const RuleSet&);

// What the matcher needs to know about one intercepted call. Unknown fields
// stay 0/nullptr; a rule with a filter on an unknown field does not match.
struct MatchInput {
  CallId call = CallId::socket;
  int family = 0;                   // the socket's: AF_INET, AF_INET6, AF_UNIX (socket(): its argument)
  int sock_type = 0;                // SOCK_STREAM, SOCK_DGRAM...; flag bits are ignored
  const uint8_t* peer_addr = nullptr;  // 16 bytes, IPv4 in the first 4; AF_INET6 may be v4-mapped
  const char* peer_path = nullptr;  // AF_UNIX peer: a path, or "@name" if abstract
  uint16_t peer_port = 0;           // host byte order
  uint16_t local_port = 0;
  const char* host = nullptr;       // getaddrinfo: its node argument; otherwise the name remembered for the peer
  const char* prog = nullptr;       // the program's name; the same for the whole process
  uint64_t bytes_in = 0;            // bytes received / sent on the connection before this call;
  uint64_t bytes_out = 0;           //   after_bytes compares bytes_in on input calls, bytes_out on
                                    //   output calls, their sum on the others
  bool connection = false;          // the call is on a connection (after_bytes and after need one)
  uint64_t conn_age_ns = 0;         // since the socket was created or accepted
  uint64_t since_start_ns = 0;      // since the process started
  bool name_from_hosts_file = false;  // getaddrinfo: the hosts file answers `host`, DNS is never
                                      //   asked; only a rule with a host= filter touches it
};

// The rules that act on one call, in rule order (match_rules). A fixed
// size, on the hook's stack: no allocation, even in a signal handler.
// At most kMaxActing rules act on one call; once that many do, the rules
// after them are not asked about it (their counters do not move).
constexpr unsigned kMaxActing = 8;
constexpr uint32_t action_bit(RuleAction a) { return 1u << static_cast<unsigned>(a); }
// The action_bit()s of a stage's actions (every RuleAction value fits 32 bits).
constexpr uint32_t stage_bits(RuleStage s) {
  uint32_t bits = 0;
  for (unsigned a = 0; a < 32; ++a)
    if (rule_stage(static_cast<RuleAction>(a)) == s) bits |= 1u << a;
  return bits;
}
struct Matched {
  unsigned count = 0;
  uint32_t actions = 0;       // action_bit() of every acting rule: which stages have work
  const Rule* rule[kMaxActing];
  uint64_t draw[kMaxActing];  // the call's draw for rule[i]'s jittered delay (delay_ns)
};

// Every rule naming in.call asks itself about the call, in rule order,
// independently of the others: a rule's nth, every, prob and times mean
// the same whether other rules exist or not. Counters are per process
// (std::atomic, no lock, no allocation; safe in signal handlers). For each
// rule naming the call:
//   1. the filters on the call itself (peer, net, port, lport, host, kind,
//      prog, after_bytes, after, since_start) must pass, else the rule is
//      skipped and its counters do not change;
//   2. the call gets the rule's next call number n (from 1, `seen`): the
//      count of calls that passed step 1, whatever other rules did;
//   3. nth and every test n; prob draws decision n of the rule's own stream
//      (a hash of seed, rule index and n), so the outcome depends only on n,
//      whatever the threads' interleaving;
//   4. times: the rule acts on at most `times` calls in all;
//   5. an ending action (rule_stage end) when an earlier rule's ending
//      already acts on the call: this rule saw the call but does not act
//      (not injected, its times not spent). Otherwise it acts: `injected`
//      counts it, and it goes in `out`.
// Returns out->count (0: make the real call untouched).
unsigned match_rules(const RuleSet&, const MatchInput&, Matched* out);
// Whether `r` draws from the seed: prob, or a jittered delay (a run with
// such rules prints its seed, so that it can be replayed).
inline bool rule_draws(const Rule& r) { return (r.filters & rf_prob) || r.wait_hi_ns || r.wait_sd_ns; }

// How long the delay of out->rule[i] lasts for the call it acts on: wait_ns
// for a fixed delay; for a jittered one a draw from the rule's own stream
// (kept in out->draw[i]), so it depends only on the seed and the rule's
// call number n, like prob.
uint64_t delay_ns(const Matched&, unsigned i);
// The delay of a jittered rule for draw `d` (delay_ns's arithmetic; tests
// check its distribution over many draws).
uint64_t delay_of_draw(const Rule& r, uint64_t d);

// Whether rule `idx` would pass step 1 for `in` and is not used up, without
// counting the call: a look ahead (where an after_bytes boundary lies, when
// an idle connection's next read is due to meet a rule).
bool rule_would_apply(const RuleSet&, uint32_t idx, const MatchInput&);

// The bloom bit of an address (4 bytes for AF_INET, 16 for AF_INET6).
uint64_t peer_bit(int family, const uint8_t* addr);
// False when no `peer=` rule of `call` can name this peer (an IPv4-mapped
// IPv6 address counts as IPv4).
bool peer_may_match(const RuleSet&, CallId call, int family, const uint8_t* addr);

// The cheap first test, one bit: false for a call no rule names (the hooks
// skip gathering a MatchInput then).
inline bool may_match(const RuleSet* set, CallId call) {
  return set != nullptr && ((set->call_mask >> static_cast<unsigned>(call)) & 1u) != 0;
}

inline unsigned match(const RuleSet& set, const MatchInput& in, Matched* out) {
  out->count = 0;
  out->actions = 0;
  return may_match(&set, in.call) ? match_rules(set, in, out) : 0;
}

// Gives back the injection a rule took for a call it did not act on after
// all (a held read that ends before its turn, inject.cpp): the call stays
// seen, and a times= rule has it to spend again (`in`: the call's, for the
// tally by call and peer).
void unclaim(const RuleSet&, const Rule&, const MatchInput& in);

// Injections by rule i so far (exit summary).
inline uint64_t injections(const RuleSet& set, uint32_t i) {
  return set.counters[i].injected.load(std::memory_order_relaxed);
}

// Zeroes the counters: a forked child counts its own calls from 1.
void reset_counters(const RuleSet&);

// A seed for a run without SOCKDIAG_SEED (clock and pid); print it so that
// the run can be replayed.
uint64_t seed_from_clock();

// The seed of one process's draws: the run's seed (SOCKDIAG_SEED, shared by
// every process of a tree) mixed with the program's name, never with a pid
// or a time, so that a rerun with the same seed gives each program the same
// draws; different programs of one run draw apart.
uint64_t process_seed(uint64_t run_seed, const char* prog);

}  // namespace sd
