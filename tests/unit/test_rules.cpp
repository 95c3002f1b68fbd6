// The fault-injection rule language (shim/core/rules.h): parsing, normal form,
// refusals with position and suggestion, and matching with its counters.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "rule_testing.h"
#include "rules.h"

#ifndef SOCKDIAG_TEST_DATA_DIR
#error "SOCKDIAG_TEST_DATA_DIR must name tests/unit (set by tests/CMakeLists.txt)"
#endif

using namespace sd;
using namespace sd::testing;

namespace {

const uint8_t* v4(const char* a, uint8_t* buf) {
  std::memset(buf, 0, 16);
  REQUIRE(inet_pton(AF_INET, a, buf) == 1);
  return buf;
}

const uint8_t* v6(const char* a, uint8_t* buf) {
  REQUIRE(inet_pton(AF_INET6, a, buf) == 1);
  return buf;
}

// A TCP/IPv4 call to 127.0.0.1:port, on a connection.
MatchInput tcp4_call(CallId call, uint16_t port, uint8_t* buf) {
  MatchInput in;
  in.call = call;
  in.family = AF_INET;
  in.sock_type = SOCK_STREAM;
  in.peer_addr = v4("127.0.0.1", buf);
  in.peer_port = port;
  in.local_port = 40000;
  in.connection = true;
  return in;
}

// Which of `calls` calls to a one-rule set match (1-based call numbers).
std::vector<int> matching_calls(std::string_view rules, int calls) {
  SetPtr s = parse_ok(rules);
  uint8_t buf[16];
  MatchInput in = tcp4_call(s->rules[0].calls & call_bit(CallId::connect) ? CallId::connect : CallId::recv, 80, buf);
  std::vector<int> hit;
  for (int i = 1; i <= calls; ++i)
    if (first_acting(*s, in)) hit.push_back(i);
  return hit;
}

std::string decode_escapes(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out += line[i];
      continue;
    }
    char c = line[++i];
    if (c == 'n') out += '\n';
    else if (c == 't') out += '\t';
    else if (c == '\\') out += '\\';
    else if (c == 'x' && i + 2 < line.size()) {
      out += static_cast<char>(std::stoi(line.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += '\\';
      out += c;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every action parses and prints in normal form", "[rules]") {
  check_normal("connect:error=ECONNREFUSED", "connect:error=ECONNREFUSED");
  check_normal(" connect : error = 111 ", "connect:error=ECONNREFUSED");
  check_normal("connect:error=econnrefused", "connect:error=ECONNREFUSED");
  check_normal("recv:error=EWOULDBLOCK", "recv:error=EAGAIN");
  check_normal("send:short=1", "send:short=1");
  check_normal("io:short=4096", "io:short=4K");
  check_normal("recv:delay=200ms", "recv:delay=200ms");
  check_normal("recv:delay=1.5s", "recv:delay=1500ms");
  check_normal("recv:delay=2000ms", "recv:delay=2s");
  check_normal("recv:delay=0.25ms", "recv:delay=250us");
  check_normal("getaddrinfo:delay=3s", "getaddrinfo:delay=3s");
  check_normal("recv:delay=100ms..0.2s", "recv:delay=100ms..200ms");
  check_normal("output:delay = 150ms~20000us", "output:delay=150ms~20ms");
  check_normal("connect:delay=1s..1.5s:port=80", "connect:delay=1s..1500ms:port=80");
  check_normal("recv:eof", "recv:eof");
  check_normal("input:eof", "input:eof");
  check_normal("send:reset", "send:reset");
  check_normal("io:close:after_bytes=1000000", "io:close:after_bytes=1MB");
  check_normal("recv : close : after=2s", "recv:close:after=2s");
  check_normal("close:reset", "close:reset");
  check_normal("connect:timeout", "connect:timeout=127s");
  check_normal("connect:timeout=5s", "connect:timeout=5s");
  check_normal("output:bandwidth=10KB/s", "output:bandwidth=10KB/s");
  check_normal("io:bandwidth=1M", "io:bandwidth=1M/s");
  check_normal("getaddrinfo:error=EAI_AGAIN", "getaddrinfo:error=EAI_AGAIN");
  check_normal("dns:error=EAI_NONAME", "dns:error=EAI_NONAME");
  check_normal("dns:error=EAI_FAIL", "dns:error=EAI_FAIL");

  SetPtr s = parse_ok("connect:timeout; send:short=3; output:bandwidth=2K/s; recv:delay=7ms; recv:eof; send:reset");
  CHECK(s->rules[0].action == RuleAction::timeout);
  CHECK(s->rules[0].wait_ns == kDefaultConnectTimeoutNs);
  CHECK(s->rules[1].action == RuleAction::short_transfer);
  CHECK(s->rules[1].bytes == 3);
  CHECK(s->rules[2].action == RuleAction::bandwidth);
  CHECK(s->rules[2].bytes == 2048);
  CHECK(s->rules[3].wait_ns == 7000000);
  CHECK(s->rules[4].action == RuleAction::eof);
  CHECK(s->rules[5].action == RuleAction::reset);
}

TEST_CASE("every filter parses and prints in normal form", "[rules]") {
  const std::string c = "connect:error=ECONNREFUSED";
  check_normal(c + ":peer=127.0.0.1", c + ":peer=127.0.0.1");
  check_normal(c + ":peer=127.0.0.1:5432", c + ":peer=127.0.0.1:5432");
  check_normal(c + ":peer=127.0.0.1:port=5432", c + ":peer=127.0.0.1:5432");
  check_normal(c + ":peer=127.0.0.1:port=1-9", c + ":peer=127.0.0.1:port=1-9");
  check_normal(c + ":peer=[::1]", c + ":peer=[::1]");
  check_normal(c + ":peer=[0:0::1]:5432", c + ":peer=[::1]:5432");
  check_normal(c + ":peer=[::ffff:127.0.0.1]", c + ":peer=127.0.0.1");
  check_normal(c + ":peer=/run/app.sock", c + ":peer=/run/app.sock");
  check_normal(c + ":peer=@abstract", c + ":peer=@abstract");
  check_normal(c + ":peer=/tmp/a#b", c + ":peer=\"/tmp/a#b\"");
  check_normal(c + ":peer=\"/tmp/x:y z\\\"\"", c + ":peer=\"/tmp/x:y z\\\"\"");
  check_normal(c + ":net=10.0.0.0/8", c + ":net=10.0.0.0/8");
  check_normal(c + ":net=fd00::/8", c + ":net=fd00::/8");
  check_normal(c + ":net=[fd00::]/8", c + ":net=fd00::/8");
  check_normal(c + ":net=::ffff:10.0.0.0/104", c + ":net=10.0.0.0/8");
  check_normal(c + ":port=5432", c + ":port=5432");
  check_normal(c + ":port=8000-8999", c + ":port=8000-8999");
  check_normal(c + ":lport=40000-40100", c + ":lport=40000-40100");
  check_normal(c + ":host=DB.Internal", c + ":host=db.internal");
  check_normal(c + ":host=*.internal", c + ":host=*.internal");
  for (const char* k : {"tcp", "udp", "ipv4", "ipv6", "tcp4", "tcp6", "udp4", "udp6"})
    check_normal(c + ":kind=" + k, c + ":kind=" + k);
  check_normal("connect:error=ENOENT:kind=unix", "connect:error=ENOENT:kind=unix");
  check_normal(c + ":prog=curl", c + ":prog=curl");
  check_normal(c + ":prog=python3*", c + ":prog=python3*");
  check_normal("recv:eof:after_bytes=4096", "recv:eof:after_bytes=4K");
  check_normal("recv:eof:after_bytes=1000", "recv:eof:after_bytes=1KB");
  check_normal("recv:eof:after_bytes=1500", "recv:eof:after_bytes=1500");
  check_normal("recv:eof:after_bytes=2MiB", "recv:eof:after_bytes=2M");
  check_normal("recv:eof:after=2s", "recv:eof:after=2s");
  check_normal(c + ":since_start=10s", c + ":since_start=10s");
  check_normal(c + ":nth=3", c + ":nth=3");
  check_normal(c + ":nth=2..5", c + ":nth=2..5");
  check_normal(c + ":nth=4..", c + ":nth=4..");
  check_normal(c + ":nth=3..3", c + ":nth=3");
  check_normal(c + ":every=3", c + ":every=3");
  check_normal(c + ":prob=0.25", c + ":prob=0.25");
  check_normal(c + ":prob=25%", c + ":prob=0.25");
  check_normal(c + ":prob=0.5%", c + ":prob=0.005");
  check_normal(c + ":prob=100%", c + ":prob=1");
  check_normal(c + ":times=1", c + ":times=1");
  // Parts in any order; the normal form has one.
  check_normal("connect:times=2:port=80:prob=0.5:error=ECONNREFUSED:nth=2..:host=a",
               "connect:error=ECONNREFUSED:port=80:host=a:nth=2..:prob=0.5:times=2");
}

TEST_CASE("the example of tools/INJECT.md and the separators", "[rules]") {
  SetPtr s = parse_ok(
      "connect:error=ECONNREFUSED:port=5432:nth=1..3; recv:error=ECONNRESET:after_bytes=4096; send:short=1; "
      "recv:delay=200ms:prob=0.25; getaddrinfo:error=EAI_AGAIN:host=db.internal");
  REQUIRE(s->count == 5);
  CHECK(format_rules(*s) ==
        "connect:error=ECONNREFUSED:port=5432:nth=1..3\n"
        "recv:error=ECONNRESET:after_bytes=4K\n"
        "send:short=1\n"
        "recv:delay=200ms:prob=0.25\n"
        "getaddrinfo:error=EAI_AGAIN:host=db.internal\n");
  CHECK(std::string(s->rules[2].text) == "send:short=1");
  CHECK(s->rules[4].index == 4);

  CHECK(parse_ok("")->count == 0);
  CHECK(parse_ok(" ;; ; ")->count == 0);
  CHECK(parse_ok("recv:eof;")->count == 1);
  CHECK(parse_ok("# only a comment")->count == 0);
  CHECK(parse_ok("recv:eof # first\n\n  # a comment line\nsend:reset\r\n;send:short=2;#x\n")->count == 3);
}

TEST_CASE("calls, groups and their errors", "[rules]") {
  for (unsigned i = 0; i < kRuleCallCount; ++i) {
    CallId c = static_cast<CallId>(i), back;
    REQUIRE(call_id_from_name(call_id_name(c), &back));
    CHECK(back == c);
  }
  CallId c;
  CHECK_FALSE(call_id_from_name("__recv_chk", &c));
  CHECK(class_of(CallId::readv) == CallClass::recv);
  CHECK(class_of(CallId::writev) == CallClass::send);
  CHECK(class_of(CallId::getaddrinfo) == CallClass::dns);

  CHECK(parse_ok("accept:delay=1ms")->call_mask == (call_bit(CallId::accept) | call_bit(CallId::accept4)));
  CHECK(parse_ok("accept4:delay=1ms")->call_mask == call_bit(CallId::accept4));
  CHECK(parse_ok("poll:delay=1ms")->call_mask == (call_bit(CallId::poll) | call_bit(CallId::ppoll)));
  CHECK(parse_ok("select:delay=1ms")->call_mask == (call_bit(CallId::select) | call_bit(CallId::pselect)));
  CHECK(parse_ok("epoll_wait:delay=1ms")->call_mask ==
        (call_bit(CallId::epoll_wait) | call_bit(CallId::epoll_pwait)));
  CHECK(__builtin_popcountll(parse_ok("io:delay=1ms")->call_mask) == 12);
  CHECK(__builtin_popcountll(parse_ok("input:delay=1ms")->call_mask) == 6);
  CHECK(__builtin_popcountll(parse_ok("output:delay=1ms")->call_mask) == 6);
  CHECK(__builtin_popcountll(parse_ok("wait:delay=1ms")->call_mask) == 6);
  CHECK(parse_ok("dns:delay=1ms")->call_mask == call_bit(CallId::getaddrinfo));

  auto allows = [](CallId call, int code) {
    CodeKind d;
    std::size_t n;
    const int* codes = allowed_errors(call, &d, &n);
    for (std::size_t i = 0; i < n; ++i)
      if (codes[i] == code) return true;
    return false;
  };
  CHECK(allows(CallId::connect, ECONNREFUSED));
  CHECK_FALSE(allows(CallId::accept, ECONNREFUSED));
  CHECK(allows(CallId::send, EPIPE));
  CHECK_FALSE(allows(CallId::recv, EPIPE));
  CHECK(allows(CallId::getaddrinfo, EAI_AGAIN));
  CodeKind d;
  std::size_t n;
  allowed_errors(CallId::close, &d, &n);
  CHECK(n == 0);
  // Every group's errors hold for every call in it.
  CHECK(parse_ok("io:error=ECONNRESET")->count == 1);
  CHECK(parse_ok("output:error=EPIPE")->count == 1);
}

TEST_CASE("the documentation lists the same errors as the table", "[rules]") {
  // tools/INJECT.md has a line "| `call` | NAME, NAME |" per call, in its
  // section "Errors each call can return" (other tables name the action
  // close, which is also a call).
  std::ifstream md(SOCKDIAG_TEST_DATA_DIR "/../../tools/INJECT.md");
  REQUIRE(md.good());
  std::string line;
  unsigned rows = 0;
  bool in_section = false;
  while (std::getline(md, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Errors each call can return";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    std::size_t e = line.find('`', 3);
    CallId c;
    if (e == std::string::npos || !call_id_from_name(line.substr(3, e - 3), &c)) continue;
    std::size_t bar = line.find('|', e);
    std::string listed = line.substr(bar + 1);
    listed = listed.substr(0, listed.find('|'));
    std::string expected;
    CodeKind d;
    std::size_t n;
    const int* codes = allowed_errors(c, &d, &n);
    for (std::size_t i = 0; i < n; ++i) expected += std::string(i ? ", " : "") + code_name(d, codes[i]);
    if (n == 0) expected = "(none)";
    INFO("call " << call_id_name(c));
    CHECK(listed == " " + expected + " ");
    ++rows;
  }
  CHECK(rows == kRuleCallCount);
}

TEST_CASE("positions name the source, line and column", "[rules]") {
  std::string e = parse_error("recv:eof\nsend:reset\n  conect:error=ECONNREFUSED");
  CHECK(e.rfind("SOCKDIAG_INJECT line 3, column 3: ", 0) == 0);
  CHECK(e.find("did you mean connect?") != std::string::npos);

  RuleParser p;
  std::string err;
  REQUIRE(p.add("recv:eof", "SOCKDIAG_INJECT", 0, &err));
  CHECK_FALSE(p.add("send:short=1K:prb=0.5", "/etc/app.conf", 12, &err));
  CHECK(err.rfind("/etc/app.conf:12, column 15: ", 0) == 0);
  CHECK(err.find("did you mean prob?") != std::string::npos);
  REQUIRE(p.add("send:short=1K", "/etc/app.conf", 13, &err));
  // "inject = send:reset:kind=udp" on line 14: the rule starts at column 10.
  CHECK_FALSE(p.add("send:reset:kind=udp", "/etc/app.conf", 14, &err, 10));
  CHECK(err.rfind("/etc/app.conf:14, column 15: reset does not happen to UDP", 0) == 0);
  SetPtr s(p.finish(), free_rules);
  CHECK(s->count == 2);
  CHECK(s->rules[1].index == 1);
}

TEST_CASE("at most kMaxRules rules", "[rules]") {
  std::string text;
  for (unsigned i = 0; i < kMaxRules; ++i) text += "recv:eof;";
  CHECK(parse_ok(text)->count == kMaxRules);
  CHECK(parse_error(text + "send:reset").find("too many rules") != std::string::npos);
}

TEST_CASE("the bad-rules corpus is refused with the expected messages", "[rules]") {
  std::ifstream in(SOCKDIAG_TEST_DATA_DIR "/bad_rules.txt");
  REQUIRE(in.good());
  std::string line, rule;
  unsigned cases = 0;
  bool have_rule = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("=> ", 0) != 0) {
      REQUIRE_FALSE(have_rule);  // every rule line is followed by its fragments
      rule = decode_escapes(line);
      have_rule = true;
      continue;
    }
    REQUIRE(have_rule);
    have_rule = false;
    ++cases;
    std::string err = parse_error(rule);
    INFO("rule: " << line << " / " << rule << "\nerror: " << err);
    CHECK(err.rfind("SOCKDIAG_INJECT", 0) == 0);
    CHECK(err.find('\n') == std::string::npos);
    CHECK(err.find(", column ") != std::string::npos);
    std::string frags = line.substr(3);
    for (std::size_t at = 0; at != std::string::npos;) {
      std::size_t next = frags.find(" && ", at);
      std::string frag = frags.substr(at, next == std::string::npos ? std::string::npos : next - at);
      CHECK(err.find(frag) != std::string::npos);
      at = next == std::string::npos ? next : next + 4;
    }
  }
  CHECK_FALSE(have_rule);
  CHECK(cases >= 30);
}

TEST_CASE("the fuzz seed corpus parses and keeps its normal form", "[rules]") {
  namespace fs = std::filesystem;
  unsigned files = 0;
  for (const fs::directory_entry& f : fs::directory_iterator(SOCKDIAG_TEST_DATA_DIR "/../fuzz/corpus/rules")) {
    std::ifstream in(f.path());
    std::stringstream text;
    text << in.rdbuf();
    INFO("seed " << f.path().filename());
    std::string n = normal(text.str());
    CHECK(normal(n) == n);
    ++files;
  }
  CHECK(files >= 10);
}

TEST_CASE("no rule for a call: one bit says so", "[rules][match]") {
  SetPtr s = parse_ok("connect:error=ECONNREFUSED; send:short=1");
  CHECK(may_match(s.get(), CallId::connect));
  CHECK_FALSE(may_match(s.get(), CallId::recv));
  CHECK_FALSE(may_match(nullptr, CallId::connect));
  uint8_t buf[16];
  CHECK(first_acting(*s, tcp4_call(CallId::recv, 80, buf)) == nullptr);
  CHECK(first_acting(*s, tcp4_call(CallId::connect, 80, buf)) == &s->rules[0]);
  CHECK(first_acting(*s, tcp4_call(CallId::send, 80, buf)) == &s->rules[1]);
}

TEST_CASE("matching: addresses", "[rules][match]") {
  uint8_t buf[16], other[16];
  SECTION("peer IPv4, with and without port, and v4-mapped on an IPv6 socket") {
    SetPtr s = parse_ok("connect:error=ECONNREFUSED:peer=127.0.0.1:5432");
    MatchInput in = tcp4_call(CallId::connect, 5432, buf);
    CHECK(first_acting(*s, in));
    in.peer_port = 5433;
    CHECK_FALSE(first_acting(*s, in));
    in = tcp4_call(CallId::connect, 5432, buf);
    in.peer_addr = v4("127.0.0.2", other);
    CHECK_FALSE(first_acting(*s, in));
    in.family = AF_INET6;
    in.peer_addr = v6("::ffff:127.0.0.1", other);
    CHECK(first_acting(*s, in));
  }
  SECTION("peer IPv6") {
    SetPtr s = parse_ok("connect:error=ECONNREFUSED:peer=[::1]");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    CHECK_FALSE(first_acting(*s, in));  // 127.0.0.1 is not ::1
    in.family = AF_INET6;
    in.peer_addr = v6("::1", other);
    CHECK(first_acting(*s, in));
    in.peer_addr = nullptr;
    CHECK_FALSE(first_acting(*s, in));
  }
  SECTION("peer unix path") {
    SetPtr s = parse_ok("connect:error=ENOENT:peer=/run/app.sock");
    MatchInput in;
    in.call = CallId::connect;
    in.family = AF_UNIX;
    in.sock_type = SOCK_STREAM;
    CHECK_FALSE(first_acting(*s, in));
    in.peer_path = "/run/app.sock";
    CHECK(first_acting(*s, in));
    in.peer_path = "/run/app.sock2";
    CHECK_FALSE(first_acting(*s, in));
  }
  SECTION("net v4 and v6, on a bit boundary inside a byte") {
    SetPtr s = parse_ok("connect:error=ENETUNREACH:net=10.64.0.0/10; connect:error=EHOSTUNREACH:net=fe80::/10");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    in.peer_addr = v4("10.127.255.1", buf);
    CHECK(first_acting(*s, in) == &s->rules[0]);
    in.peer_addr = v4("10.128.0.1", buf);
    CHECK(first_acting(*s, in) == nullptr);
    in.family = AF_INET6;
    in.peer_addr = v6("febf::1", buf);
    CHECK(first_acting(*s, in) == &s->rules[1]);
    in.peer_addr = v6("fec0::1", buf);
    CHECK(first_acting(*s, in) == nullptr);
  }
}

TEST_CASE("matching: ports, host, kind, prog", "[rules][match]") {
  uint8_t buf[16];
  SECTION("port range and local port") {
    SetPtr s = parse_ok("connect:error=ECONNREFUSED:port=8000-8002:lport=40000");
    CHECK_FALSE(first_acting(*s, tcp4_call(CallId::connect, 7999, buf)));
    CHECK(first_acting(*s, tcp4_call(CallId::connect, 8000, buf)));
    CHECK(first_acting(*s, tcp4_call(CallId::connect, 8002, buf)));
    CHECK_FALSE(first_acting(*s, tcp4_call(CallId::connect, 8003, buf)));
    MatchInput in = tcp4_call(CallId::connect, 8001, buf);
    in.local_port = 40001;
    CHECK_FALSE(first_acting(*s, in));
  }
  SECTION("host glob, case ignored; no name, no match") {
    SetPtr s = parse_ok("dns:error=EAI_AGAIN:host=*.Internal");
    MatchInput in;
    in.call = CallId::getaddrinfo;
    CHECK_FALSE(first_acting(*s, in));
    in.host = "db.INTERNAL";
    CHECK(first_acting(*s, in));
    in.host = "internal";
    CHECK_FALSE(first_acting(*s, in));
    in.host = "a.internal.example";
    CHECK_FALSE(first_acting(*s, in));
  }
  SECTION("kind") {
    SetPtr s = parse_ok("send:delay=1ms:kind=udp; send:delay=2ms:kind=tcp6; send:delay=3ms:kind=unix; send:delay=4ms:kind=ipv4");
    MatchInput in = tcp4_call(CallId::send, 53, buf);
    in.sock_type = SOCK_DGRAM | SOCK_NONBLOCK;
    CHECK(first_acting(*s, in) == &s->rules[0]);
    in.sock_type = SOCK_STREAM;
    CHECK(first_acting(*s, in) == &s->rules[3]);
    in.family = AF_INET6;
    in.peer_addr = v6("::1", buf);
    CHECK(first_acting(*s, in) == &s->rules[1]);
    in.peer_addr = v6("::ffff:127.0.0.1", buf);  // IPv4 to the rules
    CHECK(first_acting(*s, in) == &s->rules[3]);
    in.family = AF_UNIX;
    in.peer_addr = nullptr;
    CHECK(first_acting(*s, in) == &s->rules[2]);
  }
  SECTION("prog glob") {
    SetPtr s = parse_ok("connect:error=ECONNREFUSED:prog=py*3");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    CHECK_FALSE(first_acting(*s, in));  // no name known yet: not decided
    in.prog = "python3";
    CHECK(first_acting(*s, in));
    SetPtr t = parse_ok("connect:error=ECONNREFUSED:prog=curl");
    CHECK_FALSE(first_acting(*t, in));
  }
}

TEST_CASE("looking ahead counts nothing", "[rules][match]") {
  // rule_would_apply: whether a rule would pass its filters (where an
  // after_bytes boundary lies, when an idle read is due), without a call
  // number taken or an injection counted.
  uint8_t buf[16];
  SetPtr s = parse_ok("recv:eof:after_bytes=100:times=1");
  MatchInput in = tcp4_call(CallId::recv, 80, buf);
  in.bytes_in = 99;
  CHECK_FALSE(rule_would_apply(*s, 0, in));
  in.bytes_in = 100;
  CHECK(rule_would_apply(*s, 0, in));
  CHECK(rule_would_apply(*s, 0, in));
  CHECK(s->counters[0].seen.load() == 0);
  CHECK(injections(*s, 0) == 0);
  in.connection = false;
  CHECK_FALSE(rule_would_apply(*s, 0, in));
  in.connection = true;
  CHECK(first_acting(*s, in) == &s->rules[0]);
  CHECK_FALSE(rule_would_apply(*s, 0, in));  // its one injection is used up
}

TEST_CASE("matching: bytes and time", "[rules][match]") {
  uint8_t buf[16];
  SetPtr s = parse_ok("io:delay=1ms:after_bytes=100; close:reset:after_bytes=100");
  MatchInput in = tcp4_call(CallId::recv, 80, buf);
  in.bytes_in = 99;
  in.bytes_out = 1000;
  CHECK_FALSE(first_acting(*s, in));  // input calls count received bytes
  in.bytes_in = 100;
  CHECK(first_acting(*s, in));
  in.call = CallId::write;  // output calls count sent bytes
  in.bytes_out = 99;
  CHECK_FALSE(first_acting(*s, in));
  in.call = CallId::close;  // others count both
  CHECK(first_acting(*s, in) == &s->rules[1]);
  in.connection = false;
  CHECK_FALSE(first_acting(*s, in));

  SetPtr t = parse_ok("recv:eof:after=2s; connect:error=ECONNREFUSED:since_start=1500ms");
  in = tcp4_call(CallId::recv, 80, buf);
  in.conn_age_ns = 1999999999;
  CHECK_FALSE(first_acting(*t, in));
  in.conn_age_ns = 2000000000;
  CHECK(first_acting(*t, in));
  in.call = CallId::connect;
  in.since_start_ns = 1499999999;
  CHECK_FALSE(first_acting(*t, in));
  in.since_start_ns = 1500000000;
  CHECK(first_acting(*t, in));
}

TEST_CASE("nth and every count the rule's calls", "[rules][match]") {
  CHECK(matching_calls("connect:error=ECONNREFUSED:nth=3", 10) == std::vector<int>{3});
  CHECK(matching_calls("connect:error=ECONNREFUSED:nth=2..4", 10) == std::vector<int>{2, 3, 4});
  CHECK(matching_calls("connect:error=ECONNREFUSED:nth=8..", 10) == std::vector<int>{8, 9, 10});
  CHECK(matching_calls("connect:error=ECONNREFUSED:every=3", 10) == std::vector<int>{3, 6, 9});
  CHECK(matching_calls("connect:error=ECONNREFUSED:nth=2..7:every=3", 10) == std::vector<int>{3, 6});
  CHECK(matching_calls("connect:error=ECONNREFUSED:times=2", 10) == std::vector<int>{1, 2});
  CHECK(matching_calls("connect:error=ECONNREFUSED:nth=4..:times=2", 10) == std::vector<int>{4, 5});

  uint8_t buf[16];
  SECTION("calls that fail the rule's other filters are not counted") {
    SetPtr s = parse_ok("connect:error=ECONNREFUSED:port=5432:nth=2");
    CHECK_FALSE(first_acting(*s, tcp4_call(CallId::connect, 5432, buf)));
    CHECK_FALSE(first_acting(*s, tcp4_call(CallId::connect, 80, buf)));
    CHECK(first_acting(*s, tcp4_call(CallId::connect, 5432, buf)));
    CHECK(s->counters[0].seen.load() == 2);
  }
  SECTION("every rule counts the call, whatever the rules before it did") {
    SetPtr s = parse_ok("connect:error=ETIMEDOUT:nth=1; connect:error=ECONNREFUSED:nth=2");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    CHECK(first_acting(*s, in) == &s->rules[0]);
    CHECK(first_acting(*s, in) == &s->rules[1]);  // rule 2's second call: its first was rule 1's
    CHECK(first_acting(*s, in) == nullptr);
    // A rule past its nth range counts no more calls: it can never act again.
    CHECK(s->counters[0].seen.load() == 1);
    CHECK(s->counters[1].seen.load() == 2);
  }
  SECTION("times used up: the next rule acts; an ending beaten by an earlier one is seen, not injected") {
    SetPtr s = parse_ok("connect:error=ETIMEDOUT:times=2; connect:error=ECONNREFUSED");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    CHECK(acting(*s, in) == std::vector<uint32_t>{0});
    CHECK(acting(*s, in) == std::vector<uint32_t>{0});
    CHECK(acting(*s, in) == std::vector<uint32_t>{1});
    CHECK(injections(*s, 0) == 2);
    CHECK(injections(*s, 1) == 1);
    CHECK(s->counters[1].seen.load() == 3);
    reset_counters(*s);
    CHECK(injections(*s, 0) == 0);
    CHECK(first_acting(*s, in) == &s->rules[0]);
  }
}

TEST_CASE("rules that compose: every acting rule, at most one ending", "[rules][match]") {
  uint8_t buf[16];
  SECTION("a delay then an error on connect") {
    SetPtr s = parse_ok("connect:delay=2s; connect:error=ECONNREFUSED");
    MatchInput in = tcp4_call(CallId::connect, 80, buf);
    CHECK(acting(*s, in) == std::vector<uint32_t>{0, 1});
    CHECK(injections(*s, 0) == 1);
    CHECK(injections(*s, 1) == 1);
  }
  SECTION("delay, bandwidth and short on output all act") {
    SetPtr s = parse_ok("output:delay=10ms; output:bandwidth=1M; output:short=100; input:eof");
    CHECK(acting(*s, tcp4_call(CallId::send, 80, buf)) == std::vector<uint32_t>{0, 1, 2});
    CHECK(acting(*s, tcp4_call(CallId::write, 80, buf)) == std::vector<uint32_t>{0, 1, 2});
    CHECK(acting(*s, tcp4_call(CallId::recv, 80, buf)) == std::vector<uint32_t>{3});
  }
  SECTION("the first ending in rule order acts; the later ones count the call as seen only") {
    SetPtr s = parse_ok("setsockopt:error=ENOBUFS:every=2; setsockopt:delay=1ms:every=3; setsockopt:error=ENOMEM:every=3");
    MatchInput in = tcp4_call(CallId::setsockopt, 80, buf);
    std::vector<std::vector<uint32_t>> got;
    for (int i = 1; i <= 12; ++i) got.push_back(acting(*s, in));
    using V = std::vector<uint32_t>;
    CHECK(got == std::vector<V>{V{}, V{0}, V{1, 2}, V{0}, V{}, V{0, 1}, V{}, V{0}, V{1, 2}, V{0}, V{}, V{0, 1}});
    CHECK(injections(*s, 0) == 6);
    CHECK(injections(*s, 1) == 4);
    CHECK(injections(*s, 2) == 2);  // calls 6 and 12 were rule 1's: seen, not injected
    for (uint32_t i = 0; i < 3; ++i) CHECK(s->counters[i].seen.load() == 12);
  }
  SECTION("a beaten ending keeps its times for a later call") {
    SetPtr s = parse_ok("recv:eof:nth=1; recv:error=ECONNRESET:times=1");
    MatchInput in = tcp4_call(CallId::recv, 80, buf);
    CHECK(acting(*s, in) == std::vector<uint32_t>{0});
    CHECK(acting(*s, in) == std::vector<uint32_t>{1});
    CHECK(acting(*s, in).empty());
  }
  SECTION("each rule counts alone: the same calls act with or without the others") {
    const char* alone = "send:short=1:every=3";
    SetPtr one = parse_ok(alone);
    SetPtr many = parse_ok(std::string("send:delay=1ms:nth=2; send:error=EPIPE:every=2; ") + alone);
    MatchInput in = tcp4_call(CallId::send, 80, buf);
    for (int i = 1; i <= 12; ++i) {
      bool a = first_acting(*one, in) != nullptr;
      std::vector<uint32_t> m = acting(*many, in);
      CHECK(a == (std::find(m.begin(), m.end(), 2u) != m.end()));
    }
    CHECK(injections(*one, 0) == injections(*many, 2));
  }
  SECTION("at most kMaxActing rules act; the rules after them are not asked") {
    std::string text;
    for (unsigned i = 0; i < kMaxActing + 2; ++i) text += "send:delay=" + std::to_string(i + 1) + "ms; ";
    SetPtr s = parse_ok(text);
    MatchInput in = tcp4_call(CallId::send, 80, buf);
    CHECK(acting(*s, in).size() == kMaxActing);
    CHECK(s->counters[kMaxActing - 1].seen.load() == 1);
    CHECK(s->counters[kMaxActing].seen.load() == 0);
  }
  SECTION("unclaim gives an injection back and keeps the call seen") {
    SetPtr s = parse_ok("recv:delay=5ms; recv:error=ECONNRESET:times=1");
    MatchInput in = tcp4_call(CallId::recv, 80, buf);
    Matched m;
    REQUIRE(match(*s, in, &m) == 2);
    unclaim(*s, *m.rule[1], in);
    CHECK(injections(*s, 1) == 0);
    CHECK(s->counters[1].seen.load() == 1);
    CHECK(acting(*s, in) == std::vector<uint32_t>{0, 1});  // its one injection is still to spend
  }
}

TEST_CASE("prob: the same seed gives the same decisions, another seed others", "[rules][match]") {
  SetPtr s = parse_ok("connect:error=ECONNREFUSED:prob=0.3; recv:eof:prob=0.5");
  uint8_t buf[16];
  MatchInput conn = tcp4_call(CallId::connect, 80, buf);
  MatchInput recv = tcp4_call(CallId::recv, 80, buf);
  auto run = [&](uint64_t seed, bool interleave) {
    s->seed = seed;
    reset_counters(*s);
    std::vector<bool> out;
    for (int i = 0; i < 2000; ++i) {
      out.push_back(first_acting(*s, conn) != nullptr);
      if (interleave && i % 3 == 0) first_acting(*s, recv);
    }
    return out;
  };
  std::vector<bool> a = run(42, false);
  CHECK(a == run(42, false));
  CHECK(a == run(42, true));  // another rule's calls do not shift this rule's stream
  CHECK(a != run(43, false));
  long hits = std::count(a.begin(), a.end(), true);
  CHECK(hits > 500);  // 2000 draws at 0.3: 600 expected
  CHECK(hits < 700);
  CHECK(injections(*s, 0) > 0);
}

TEST_CASE("8 threads on one rule: exact counts", "[rules][match][threads]") {
  uint8_t buf[16];
  SECTION("prob=0.5 times=1000: exactly 1000 injections") {
    SetPtr s = parse_ok("send:short=1:prob=0.5:times=1000");
    s->seed = 7;
    const MatchInput in = tcp4_call(CallId::send, 80, buf);  // threads only read it
    std::atomic<long> matched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        long mine = 0;
        for (int i = 0; i < 1000; ++i) mine += first_acting(*s, in) != nullptr;
        matched += mine;
      });
    for (std::thread& t : threads) t.join();
    CHECK(matched.load() == 1000);
    CHECK(injections(*s, 0) == 1000);
  }
  SECTION("the decisions depend on the call number only, not on the threads") {
    SetPtr s = parse_ok("send:short=1:prob=0.5");
    s->seed = 11;
    const MatchInput in = tcp4_call(CallId::send, 80, buf);
    for (int i = 0; i < 8000; ++i) first_acting(*s, in);
    uint64_t alone = injections(*s, 0);
    reset_counters(*s);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 1000; ++i) first_acting(*s, in);
      });
    for (std::thread& t : threads) t.join();
    CHECK(injections(*s, 0) == alone);
    CHECK(s->counters[0].seen.load() == 8000);
  }
}

TEST_CASE("seed_from_clock differs between calls", "[rules]") {
  CHECK(seed_from_clock() != seed_from_clock());
}

TEST_CASE("process_seed: the run's seed and the program's name, nothing else", "[rules]") {
  // Replays must not depend on pids or time: the same inputs, the same seed.
  CHECK(process_seed(7, "curl") == process_seed(7, "curl"));
  CHECK(process_seed(7, "curl") != process_seed(7, "wget"));
  CHECK(process_seed(7, "curl") != process_seed(8, "curl"));
  CHECK(process_seed(7, nullptr) == process_seed(7, ""));
}
