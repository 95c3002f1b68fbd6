// The rules under the strace engine (tools/sockdiag/strace_rules.h): which
// map exactly, approximately or not at all, and the -e inject value.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rules.h"
#include "strace_rules.h"

using namespace sdcli;

namespace {

using SetPtr = std::unique_ptr<sd::RuleSet, void (*)(sd::RuleSet*)>;

SetPtr parse_ok(std::string_view text) {
  std::string err;
  sd::RuleSet* s = sd::parse_rules(text, "SOCKDIAG_INJECT", &err);
  INFO("text: " << text << "\nerror: " << err);
  REQUIRE(s != nullptr);
  return SetPtr(s, sd::free_rules);
}

std::vector<RuleMapping> map_text(std::string_view text, bool multithreaded = false) {
  SetPtr set = parse_ok(text);
  return map_rules(set.get(), multithreaded);
}

RuleMapping map_one(std::string_view text, bool multithreaded = false) {
  std::vector<RuleMapping> m = map_text(text, multithreaded);
  REQUIRE(m.size() == 1);
  INFO("rule: " << m[0].rule << "\ninject: " << m[0].inject << "\nreason: " << m[0].reason);
  return m[0];
}

// The rule maps exactly to `inject`.
void exact(std::string_view text, const std::string& inject, bool multithreaded = false) {
  RuleMapping m = map_one(text, multithreaded);
  INFO("rule: " << text << "\nreason: " << m.reason);
  CHECK(m.mapping == Mapping::exact);
  CHECK(m.inject == inject);
  CHECK(m.reason.empty());
  CHECK_FALSE(m.syscalls.empty());
}

// The rule maps approximately to `inject`, for a reason containing `why`.
void approximate(std::string_view text, const std::string& inject, const std::string& why, bool multithreaded = false) {
  RuleMapping m = map_one(text, multithreaded);
  INFO("rule: " << text << "\nreason: " << m.reason);
  CHECK(m.mapping == Mapping::approximate);
  CHECK(m.inject == inject);
  CHECK(m.reason.find(why) != std::string::npos);
}

// strace cannot carry the rule, for a reason containing `why`.
void none(std::string_view text, const std::string& why) {
  RuleMapping m = map_one(text);
  INFO("rule: " << text << "\nreason: " << m.reason);
  CHECK(m.mapping == Mapping::none);
  CHECK(m.inject.empty());
  CHECK(m.syscalls.empty());
  CHECK(m.reason.find(why) != std::string::npos);
  CHECK(m.reason.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("strace rules: errors on socket calls without filters are exact") {
  exact("connect:error=ECONNREFUSED", "connect:error=ECONNREFUSED");
  exact("connect:error=111", "connect:error=ECONNREFUSED");
  exact("socket:error=EMFILE", "socket:error=EMFILE");
  exact("socketpair:error=ENFILE", "socketpair:error=ENFILE");
  exact("bind:error=EADDRINUSE", "bind:error=EADDRINUSE");
  exact("listen:error=EADDRINUSE", "listen:error=EADDRINUSE");
  exact("accept4:error=EMFILE", "accept4:error=EMFILE");
  exact("accept:error=EMFILE", "accept,accept4:error=EMFILE");
  exact("sendmsg:error=ENOBUFS", "sendmsg:error=ENOBUFS");
  exact("recvmsg:error=EAGAIN", "recvmsg:error=EAGAIN");
  exact("recvmmsg:error=EINTR", "recvmmsg:error=EINTR");
  exact("getsockopt:error=ENOPROTOOPT", "getsockopt:error=ENOPROTOOPT");
  exact("setsockopt:error=EPERM", "setsockopt:error=EPERM");
  exact("poll:error=EINTR", "poll,ppoll:error=EINTR");
  exact("select:error=EINTR", "select,pselect6:error=EINTR");
  exact("epoll_wait:error=EINTR", "epoll_wait,epoll_pwait:error=EINTR");
  exact("wait:error=EINTR", "poll,ppoll,select,pselect6,epoll_wait,epoll_pwait:error=EINTR");
  // Aliases come out under the usual name strace knows.
  exact("connect:error=EWOULDBLOCK", "connect:error=EAGAIN");
}

TEST_CASE("strace rules: the system calls to trace are the injected ones") {
  RuleMapping m = map_one("wait:error=EINTR");
  CHECK(m.syscalls == std::vector<std::string>{"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait"});
  CHECK(map_one("recv:error=EAGAIN").syscalls == std::vector<std::string>{"recvfrom"});
  std::vector<RuleMapping> all = map_text("connect:error=ECONNREFUSED; accept:error=EMFILE; recv:short=1");
  CHECK(inject_syscalls(all) == std::vector<std::string>{"connect", "accept", "accept4"});
}

TEST_CASE("strace rules: delay and connect timeout") {
  exact("connect:delay=200ms", "connect:delay_enter=200ms");
  approximate("send:delay=1500us", "sendto:delay_enter=1500us", "cannot tell send from sendto");
  exact("accept4:delay=2s", "accept4:delay_enter=2s");
  exact("epoll_wait:delay=1.5s", "epoll_wait,epoll_pwait:delay_enter=1500ms");
  // The call waits, then fails without being made: a blocking connect that
  // timed out.
  exact("connect:timeout=5s", "connect:error=ETIMEDOUT:delay_enter=5s");
  exact("connect:timeout", "connect:error=ETIMEDOUT:delay_enter=127s");
  exact("connect:timeout=250ms:nth=2", "connect:error=ETIMEDOUT:delay_enter=250ms:when=2");
}

TEST_CASE("strace rules: nth, every and times become when=") {
  exact("connect:error=ECONNREFUSED:nth=2", "connect:error=ECONNREFUSED:when=2");
  exact("connect:error=ECONNREFUSED:nth=1", "connect:error=ECONNREFUSED:when=1");
  exact("connect:error=ECONNREFUSED:nth=2..5", "connect:error=ECONNREFUSED:when=2..5");
  exact("connect:error=ECONNREFUSED:nth=3..", "connect:error=ECONNREFUSED:when=3+");
  exact("connect:error=ECONNREFUSED:nth=1..", "connect:error=ECONNREFUSED");
  exact("connect:error=ECONNREFUSED:every=3", "connect:error=ECONNREFUSED:when=3+3");
  // every counts from call 1: nth=2..10:every=3 is calls 3, 6, 9.
  exact("connect:error=ECONNREFUSED:nth=2..10:every=3", "connect:error=ECONNREFUSED:when=3..10+3");
  exact("connect:error=ECONNREFUSED:nth=4..:every=3", "connect:error=ECONNREFUSED:when=6+3");
  exact("connect:error=ECONNREFUSED:nth=3..5:every=3", "connect:error=ECONNREFUSED:when=3");
  // times=K: the first K of those calls.
  exact("connect:error=ECONNREFUSED:times=3", "connect:error=ECONNREFUSED:when=1..3");
  exact("connect:error=ECONNREFUSED:times=1", "connect:error=ECONNREFUSED:when=1");
  exact("connect:error=ECONNREFUSED:nth=5..:times=2", "connect:error=ECONNREFUSED:when=5..6");
  exact("connect:error=ECONNREFUSED:nth=5..100:times=200", "connect:error=ECONNREFUSED:when=5..100");
  exact("connect:error=ECONNREFUSED:every=10:times=3", "connect:error=ECONNREFUSED:when=10..30+10");
  exact("connect:error=ECONNREFUSED:nth=2..:every=4:times=1", "connect:error=ECONNREFUSED:when=4");
}

TEST_CASE("strace rules: when= stops at 65535") {
  exact("connect:error=ECONNREFUSED:nth=65535", "connect:error=ECONNREFUSED:when=65535");
  exact("connect:error=ECONNREFUSED:nth=65535..:times=1", "connect:error=ECONNREFUSED:when=65535");
  exact("connect:error=ECONNREFUSED:nth=65535..", "connect:error=ECONNREFUSED:when=65535+");
  exact("connect:error=ECONNREFUSED:nth=1..65534", "connect:error=ECONNREFUSED:when=1..65534");
  exact("connect:error=ECONNREFUSED:every=65535", "connect:error=ECONNREFUSED:when=65535+65535");
  exact("connect:error=ECONNREFUSED:times=65534", "connect:error=ECONNREFUSED:when=1..65534");
  // Past the last call strace can name, the calls after 65534 are lost.
  approximate("connect:error=ECONNREFUSED:nth=1..65535", "connect:error=ECONNREFUSED:when=1..65534",
              "calls numbered 65535 to 65535 are not injected");
  approximate("connect:error=ECONNREFUSED:times=100000", "connect:error=ECONNREFUSED:when=1..65534",
              "65535 to 100000");
  approximate("connect:error=ECONNREFUSED:nth=65535..70000", "connect:error=ECONNREFUSED:when=65535",
              "65535 to 70000");
  // A first call or a step strace cannot count to: refused.
  none("connect:error=ECONNREFUSED:nth=65536", "65535 at most");
  none("connect:error=ECONNREFUSED:nth=70000..", "65535 at most");
  none("connect:error=ECONNREFUSED:every=65536", "65535 at most");
  none("connect:error=ECONNREFUSED:nth=60000..:every=40000", "65535 at most");
}

TEST_CASE("strace rules: counts in multi-threaded programs are approximate") {
  approximate("connect:error=ECONNREFUSED:nth=2", "connect:error=ECONNREFUSED:when=2", "each thread's calls apart",
              true);
  approximate("accept4:error=EMFILE:every=2", "accept4:error=EMFILE:when=2+2", "each thread's calls apart", true);
  // Without counts, every call fails whatever its thread.
  exact("accept4:error=EMFILE", "accept4:error=EMFILE", true);
  exact("sendmsg:delay=10ms", "sendmsg:delay_enter=10ms", true);
  // A rule naming two system calls counts each apart.
  approximate("accept:error=EMFILE:nth=2", "accept,accept4:error=EMFILE:when=2", "each system call apart");
  SECTION("the warning lines say so") {
    std::vector<RuleMapping> one = map_text("accept4:error=EMFILE:nth=2");
    std::vector<std::string> w = warning_lines(one, false);
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("each thread's calls apart") != std::string::npos);
    CHECK(warning_lines(map_text("accept4:error=EMFILE"), false).empty());
    std::vector<std::string> mt = warning_lines(map_text("accept4:error=EMFILE:nth=2", true), true);
    REQUIRE(mt.size() == 1);
    CHECK(mt[0].rfind("rule 'accept4:error=EMFILE:nth=2' is approximate under strace: ", 0) == 0);
  }
}

TEST_CASE("strace rules: approximate faults") {
  // A non-blocking connect (Go's) gets the error at once.
  approximate("connect:error=ECONNREFUSED", "connect:error=ECONNREFUSED", "non-blocking connect", true);
  approximate("connect:timeout=1s", "connect:error=ETIMEDOUT:delay_enter=1s", "non-blocking connect", true);
  approximate("connect:error=EINTR", "connect:error=EINTR", "not started");
  // A reset without the RST: the connection stays up.
  approximate("recvmsg:error=ECONNRESET", "recvmsg:error=ECONNRESET", "no RST");
  approximate("sendmsg:error=EPIPE", "sendmsg:error=EPIPE", "no RST");
  approximate("sendmmsg:error=ETIMEDOUT", "sendmmsg:error=ETIMEDOUT", "no RST");
  approximate("shutdown:error=ENOTCONN", "shutdown:error=ENOTCONN", "no reset is left pending");
  // recv is the recvfrom system call: a rule on one hits the other.
  approximate("recv:error=EAGAIN", "recvfrom:error=EAGAIN", "cannot tell recv from recvfrom");
  approximate("recvfrom:error=EAGAIN", "recvfrom:error=EAGAIN", "cannot tell recvfrom from recv");
  approximate("send:error=ENOBUFS", "sendto:error=ENOBUFS", "cannot tell send from sendto");
  approximate("pselect:error=EINTR", "pselect6:error=EINTR", "cannot tell pselect from select");
  // A delayed read is not delayed input.
  approximate("recvmsg:delay=100ms", "recvmsg:delay_enter=100ms", "the read waits, not the data");
  // Several reasons, one line.
  RuleMapping m = map_one("recv:error=ECONNRESET:nth=2", true);
  CHECK(m.mapping == Mapping::approximate);
  CHECK(m.reason.find("no RST") != std::string::npos);
  CHECK(m.reason.find("each thread") != std::string::npos);
  CHECK(m.reason.find("recvfrom") != std::string::npos);
  CHECK(m.reason.find('\n') == std::string::npos);
}

TEST_CASE("strace rules: what strace cannot do") {
  for (const char* filter : {"peer=10.1.2.3", "net=10.0.0.0/8", "port=5432", "lport=8080", "host=db.internal",
                             "kind=tcp"})
    none(std::string("connect:error=ECONNREFUSED:") + filter, "whatever its socket");
  none("connect:error=ECONNREFUSED:prog=curl", "every process it traces");
  none("recvmsg:error=ECONNRESET:after_bytes=4K", "not bytes");
  none("recvmsg:error=ECONNRESET:after=2s", "not time");
  none("connect:error=ECONNREFUSED:since_start=1s", "not time");
  none("connect:error=ECONNREFUSED:prob=0.5", "no random choice");
  none("recvmsg:short=1", "cannot cut a transfer short");
  none("sendmsg:bandwidth=10K", "cannot pace");
  for (const char* dgram : {"sendmsg:drop", "recvmsg:duplicate:nth=2", "sendmmsg:reorder=3", "recvmmsg:truncate=64"})
    none(dgram, "cannot drop, duplicate, reorder or cut a datagram");
  none("recvmsg:eof", "cannot end a stream");
  none("sendmsg:close:nth=3", "cannot close a connection");
  none("recvmsg:stall", "cannot stall a connection");
  none("sendmsg:stall=30s:nth=2", "cannot stall a connection");
  none("close:slow_close=2s", "cannot delay a close's FIN");
  none("shutdown:slow_close=2s", "cannot delay a close's FIN");
  none("accept4:delay=100ms..200ms", "one fixed time: it has no jitter");
  none("connect:delay=100ms~10ms", "one fixed time: it has no jitter");
  none("recvmsg:reset", "cannot abort a connection");
  none("close:reset", "close is also the system call on files");
  none("close:delay=1ms", "close is also the system call on files");
  none("getaddrinfo:error=EAI_AGAIN", "getaddrinfo runs inside the program");
  none("dns:error=EAI_NONAME:host=db.internal", "getaddrinfo runs inside the program");
  none("read:error=ECONNRESET", "are also the system calls on files");
  none("writev:delay=1ms", "are also the system calls on files");
  none("input:error=ECONNRESET", "are also the system calls on files");
  none("output:delay=1ms", "are also the system calls on files");
  none("io:error=EAGAIN", "are also the system calls on files");
}

TEST_CASE("strace rules: one injection per system call") {
  std::vector<RuleMapping> m = map_text("connect:error=ECONNREFUSED:nth=1; connect:error=EHOSTUNREACH:nth=3");
  REQUIRE(m.size() == 2);
  CHECK(m[0].mapping == Mapping::exact);
  CHECK(m[1].mapping == Mapping::none);
  CHECK(m[1].reason == "the rule 'connect:error=ECONNREFUSED:nth=1' already injects into connect: strace keeps one "
                       "injection per system call, so rules cannot compose there");
  // A delay then an error composes in the library: under strace it is refused, not run as one of the two.
  m = map_text("connect:delay=2s; connect:error=ECONNREFUSED");
  REQUIRE(m.size() == 2);
  CHECK(m[0].mapping == Mapping::exact);
  CHECK(m[1].mapping == Mapping::none);
  CHECK(m[1].reason.find("rules cannot compose there") != std::string::npos);
  // Two calls on one system call collide too, and an unmapped rule takes nothing.
  m = map_text("recv:short=1; poll:error=EINTR; ppoll:error=EINTR; recvfrom:error=EAGAIN");
  REQUIRE(m.size() == 4);
  CHECK(m[0].mapping == Mapping::none);
  CHECK(m[1].mapping == Mapping::exact);
  CHECK(m[2].mapping == Mapping::none);
  CHECK(m[2].reason.find("already injects into ppoll") != std::string::npos);
  CHECK(m[3].mapping == Mapping::approximate);
  CHECK_FALSE(all_mappable(m));
  std::vector<std::string> lines = refusal_lines(m);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "rule 'recv:short=1' cannot run under strace: strace cannot cut a transfer short (it fails or "
                    "delays whole calls)");
  CHECK(lines[1].rfind("rule 'ppoll:error=EINTR' cannot run under strace: the rule 'poll:error=EINTR' already", 0) ==
        0);
  CHECK(inject_syscalls(m) == std::vector<std::string>{"poll", "ppoll", "recvfrom"});
}

TEST_CASE("strace rules: every error a mapped call accepts goes to strace by name") {
  // The parser keeps to errors a program can meet (never ERESTARTSYS and
  // the like); each reaches strace as its symbolic name, never a number.
  for (unsigned c = 0; c < sd::kRuleCallCount; ++c) {
    auto call = static_cast<sd::CallId>(c);
    sd::CodeKind kind;
    std::size_t count = 0;
    const int* errs = sd::allowed_errors(call, &kind, &count);
    if (kind != sd::CodeKind::errno_code) continue;
    for (std::size_t i = 0; i < count; ++i) {
      CHECK(errs[i] > 0);
      CHECK(errs[i] < 512);  // the kernel's internal codes start at 512
      std::string rule = std::string(sd::call_id_name(call)) + ":error=" + std::to_string(errs[i]);
      std::vector<RuleMapping> m = map_text(rule);
      if (m[0].mapping == Mapping::none) continue;
      std::string name = sd::code_name(sd::CodeKind::errno_code, errs[i]);
      INFO(rule);
      CHECK(name.rfind('E', 0) == 0);
      CHECK(m[0].inject.find(":error=" + name) != std::string::npos);
    }
  }
}

TEST_CASE("strace rules: no rules, no mappings") {
  CHECK(map_rules(nullptr, false).empty());
  CHECK(all_mappable({}));
  CHECK(refusal_lines({}).empty());
  CHECK(mapping_name(Mapping::none) == std::string("not mappable"));
}
