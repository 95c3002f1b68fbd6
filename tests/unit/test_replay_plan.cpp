// Reading a replay plan from a JSON log (shim/core/replay_plan.cpp,
// json_line.cpp) and SOCKDIAG_REPLAY in the settings (config.cpp).
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "config.h"
#include "json_line.h"
#include "replay_plan.h"
#include "rules.h"

using namespace sd;

namespace {

std::string fault(const char* call, const char* conn, int n, const char* rule, const char* extra = "") {
  return std::string("{\"v\":1,\"pid\":7,\"prog\":\"client\",\"call\":\"") + call +
         "\",\"injected\":true,\"rule\":\"" + rule + "\",\"note\":\"x\",\"conn\":\"" + conn +
         "\",\"call_n\":" + std::to_string(n) + extra + "}\n";
}

std::string refusal(const std::string& text) {
  ReplayPlan plan;
  std::string err;
  CHECK_FALSE(parse_replay(text, "run.json", &plan, &err));
  CHECK(err.find('\n') == std::string::npos);
  return err;
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/sd-replay-test-XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    path = name;
  }
  ~TempFile() { unlink(path.c_str()); }
};

const char* env_get(const char* name, void* ctx) {
  auto* vars = static_cast<std::map<std::string, std::string>*>(ctx);
  auto it = vars->find(name);
  return it == vars->end() ? nullptr : it->second.c_str();
}

bool parse_env(std::map<std::string, std::string> vars, Config* cfg, std::string* err) {
  std::vector<const char*> names;
  for (auto& kv : vars) names.push_back(kv.first.c_str());
  names.push_back(nullptr);
  return parse_config(env_get, &vars, names.data(), cfg, err);
}

}  // namespace

TEST_CASE("json_line reads a record's members and checks nested values") {
  std::vector<JsonMember> ms;
  std::string err;
  REQUIRE(read_json_object(R"({"a":"x\"\u00e9\ud83d\ude00","b":-1.5e3,"c":true,"d":null,"e":{"f":[1,{"g":2}]}})", &ms,
                           &err));
  REQUIRE(ms.size() == 5);
  CHECK(ms[0].key == "a");
  CHECK(ms[0].text == "x\"\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(ms[1].type == JsonMember::number);
  CHECK(ms[1].text == "-1.5e3");
  CHECK(ms[2].text == "true");
  CHECK(ms[3].type == JsonMember::null);
  CHECK(ms[4].type == JsonMember::nested);
  for (const char* bad : {"", "[]", "{", R"({"a":})", R"({"a":1,})", R"({"a":1} x)", R"({"a":"\q"})", R"({"a":01x})",
                          "{\"a\":\"\x01\"}", R"({"a":[1,2})", R"({a:1})"}) {
    CAPTURE(bad);
    CHECK_FALSE(read_json_object(bad, &ms, &err));
    CHECK(err.find("at byte") != std::string::npos);
  }
}

TEST_CASE("a replay plan holds each fault with its call's identity") {
  std::string text = "{\"v\":1,\"level\":\"info\",\"seed\":3,\"message\":\"m\"}\n" +
                     fault("connect", "127.0.0.1:80#2", 1, "connect:error=ECONNREFUSED:prob=0.3") +
                     "{\"v\":1,\"prog\":\"client\",\"call\":\"recv\",\"injected\":true,\"rule\":\"r\"}\n\n" +
                     fault("__recv_chk", "127.0.0.1:80#1", 4, "recv:delay=1ms..5ms", ",\"drawn_ns\":2345678") +
                     fault("poll", "socket#3", 2, "recv:delay=1ms..5ms", ",\"drawn_ns\":1000000") +
                     fault("getaddrinfo", "", 5, "dns:error=EAI_AGAIN");
  ReplayPlan plan;
  std::string err;
  REQUIRE(parse_replay(text, "run.json", &plan, &err));
  REQUIRE(plan.faults.size() == 4);
  REQUIRE(plan.set != nullptr);
  CHECK(plan.set->count == 3);
  CHECK(std::string(plan.set->rules[plan.faults[1].rule].text) == "recv:delay=1ms..5ms");
  const ReplayFault& c = plan.faults[0];
  CHECK(c.prog == "client");
  CHECK(c.call == CallId::connect);
  CHECK(c.base_hash == conn_base_hash("127.0.0.1:80"));
  CHECK(c.ordinal == 2);
  CHECK(c.n == 1);
  CHECK_FALSE(c.drawn);
  // A fortified variant is its rule call; a jittered delay keeps its draw.
  CHECK(plan.faults[1].call == CallId::recv);
  CHECK(plan.faults[1].drawn);
  CHECK(plan.faults[1].drawn_ns == 2345678);
  CHECK(plan.faults[2].call == CallId::poll);
  CHECK(plan.faults[3].ordinal == 0);
  CHECK(plan.faults[3].base_hash == conn_base_hash(""));
  free_rules(plan.set);
}

TEST_CASE("a replay plan that cannot be replayed is refused with one line") {
  std::string good = fault("recv", "127.0.0.1:80#1", 1, "recv:error=ECONNRESET");
  CHECK(refusal(good + "{\"v\":1,\"call\":\n") ==
        "run.json:2: not a JSON record (expected a value at byte 15); accepted: the JSON log of a run "
        "(sockdiag run --format json --log FILE)");
  CHECK(refusal("sockdiag 2026-01-01 text line\n").find("run.json:1: not a JSON record") == 0);
  CHECK(refusal("{\"v\":1,\"level\":\"info\",\"seed\":3}\n").find("run.json: no injected fault to replay") == 0);
  CHECK(refusal(fault("recv", "127.0.0.1:80", 1, "recv:eof")).find("\"conn\" is not a connection key") !=
        std::string::npos);
  CHECK(refusal(fault("recv", "127.0.0.1:80#0", 1, "recv:eof")).find("\"conn\"") != std::string::npos);
  CHECK(refusal(fault("recv", "x#1", 0, "recv:eof")).find("\"call_n\"") != std::string::npos);
  CHECK(refusal(fault("bogus", "x#1", 1, "recv:eof")).find("\"call\" is not a call") != std::string::npos);
  CHECK(refusal(fault("recv", "x#1", 1, "recv:error=EBOGUS")).find("run.json:1: rule") == 0);
  CHECK(refusal(fault("send", "x#1", 1, "recv:eof")).find("names a call its rule does not") != std::string::npos);
  CHECK(refusal(fault("recv", "x#1", 1, "recv:delay=1ms..2ms")).find("without \"drawn_ns\"") != std::string::npos);
  CHECK(refusal(fault("recv", "x#1", 1, "recv:eof", ",\"drawn_ns\":5")).find("draws no delay") != std::string::npos);
  CHECK(refusal(fault("recv", "x#1", 1, "recv:eof", ",\"clipped\":true")).find("clipped") != std::string::npos);
  // The same call twice: the same fault is one; rules that composed there
  // are each a fault of it; two endings of one call are refused.
  ReplayPlan plan;
  std::string err;
  REQUIRE(parse_replay(good + good, "run.json", &plan, &err));
  CHECK(plan.faults.size() == 1);
  free_rules(plan.set);
  REQUIRE(parse_replay(fault("recv", "127.0.0.1:80#1", 1, "recv:delay=5ms") + good, "run.json", &plan, &err));
  CHECK(plan.faults.size() == 2);
  free_rules(plan.set);
  CHECK(refusal(good + fault("recv", "127.0.0.1:80#1", 1, "recv:eof"))
            .find("run.json:2: a second fault ending the call of line 1") == 0);
  CHECK(refusal(fault("recv", "x#1", 1, "recv:delay=1ms..9ms", ",\"drawn_ns\":2000000") +
                fault("recv", "x#1", 1, "recv:delay=1ms..9ms", ",\"drawn_ns\":3000000"))
            .find("run.json:2: a different fault at the same call as line 1") == 0);
}

TEST_CASE("SOCKDIAG_REPLAY replaces the rules and refuses rules beside it") {
  TempFile log(fault("recv", "127.0.0.1:80#1", 3, "recv:error=ECONNRESET"));
  Config cfg;
  std::string err;
  REQUIRE(parse_env({{"SOCKDIAG_REPLAY", log.path}}, &cfg, &err));
  REQUIRE(cfg.replay != nullptr);
  REQUIRE(cfg.rules != nullptr);
  CHECK(format_rules(*cfg.rules) == "recv:error=ECONNRESET\n");
  CHECK(cfg.rules == cfg.replay->set);
  CHECK_FALSE(parse_env({{"SOCKDIAG_REPLAY", log.path}, {"SOCKDIAG_INJECT", "recv:eof"}}, &cfg, &err));
  CHECK(err == "sockdiag: SOCKDIAG_REPLAY replaces the injection rules, and SOCKDIAG_INJECT (or an inject line of "
               "SOCKDIAG_CONFIG) gives some; accepted: one or the other");
  CHECK_FALSE(parse_env({{"SOCKDIAG_REPLAY", "/nonexistent/run.json"}}, &cfg, &err));
  CHECK(err == "sockdiag: SOCKDIAG_REPLAY: cannot read '/nonexistent/run.json': No such file or directory; accepted: "
               "the path of a readable JSON log of a run");
  CHECK_FALSE(parse_env({{"SOCKDIAG_REPLAY", "/tmp"}}, &cfg, &err));
  CHECK(err.find("not a regular file") != std::string::npos);
  free_replay(cfg.replay);  // its rules, cfg.rules, with it
}
