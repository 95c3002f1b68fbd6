// Parsing and validation of the settings (shim/core/config.cpp).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "config.h"
#include "escape.h"
#include "nearest.h"

using namespace sd;

namespace {
struct Env {
  std::map<std::string, std::string> vars;
  static const char* get(const char* name, void* ctx) {
    auto* self = static_cast<Env*>(ctx);
    auto it = self->vars.find(name);
    return it == self->vars.end() ? nullptr : it->second.c_str();
  }
  bool parse(Config* cfg, std::string* err) {
    std::vector<const char*> names;
    for (auto& kv : vars) names.push_back(kv.first.c_str());
    names.push_back(nullptr);
    return parse_config(get, this, names.data(), cfg, err);
  }
};

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/sockdiag-config-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}
}  // namespace

TEST_CASE("no variables: the documented defaults", "[config]") {
  Env env;
  Config cfg;
  std::string err;
  REQUIRE(env.parse(&cfg, &err));
  CHECK(cfg.level == Level::error);
  CHECK(cfg.format == Format::text);
  CHECK(std::string(cfg.log) == "stderr");
  CHECK_FALSE(cfg.summary);
  CHECK(cfg.sigpipe == SigpipeMode::ignore);
  CHECK(cfg.seccomp == SeccompMode::standdown);
  CHECK(cfg.retry_calls[retry_eintr] == 0);
  CHECK(cfg.rules == nullptr);
}

TEST_CASE("every variable is read", "[config]") {
  Env env{{{"SOCKDIAG_LEVEL", "debug"},
           {"SOCKDIAG_FORMAT", "JSON"},
           {"SOCKDIAG_LOG", "/tmp/x.%p"},
           {"SOCKDIAG_SUMMARY", "yes"},
           {"SOCKDIAG_SIGPIPE", "keep"},
           {"SOCKDIAG_SECCOMP", "Keep"},
           {"SOCKDIAG_RETRY", "eintr, eagain@recv+send"},
           {"SOCKDIAG_RETRY_TIMEOUT_MS", "250"},
           {"SOCKDIAG_RETRY_MAX", "7"},
           {"SOCKDIAG_SEED", "12345"}}};
  Config cfg;
  std::string err;
  REQUIRE(env.parse(&cfg, &err));
  CHECK(cfg.level == Level::debug);
  CHECK(cfg.format == Format::json);
  CHECK(std::string(cfg.log) == "/tmp/x.%p");
  CHECK(cfg.summary);
  CHECK(cfg.sigpipe == SigpipeMode::keep);
  CHECK(cfg.seccomp == SeccompMode::keep);
  CHECK(cfg.retry_calls[retry_eintr] != 0);
  CHECK(cfg.retry_calls[retry_eagain] == ((1u << int(CallClass::recv)) | (1u << int(CallClass::send))));
  CHECK(cfg.retry_calls[retry_econnaborted] == 0);
  CHECK(cfg.retry_timeout_ms == 250);
  CHECK(cfg.retry_max == 7);
  CHECK(cfg.seed_set);
  CHECK(cfg.seed == 12345);
}

TEST_CASE("SOCKDIAG_SUMMARY takes an absolute path for a process tree's summary", "[config]") {
  Env env{{{"SOCKDIAG_SUMMARY", "/tmp/tree.jsonl"}}};
  Config cfg;
  std::string err;
  REQUIRE(env.parse(&cfg, &err));
  CHECK(cfg.summary);
  CHECK(std::string(cfg.summary_path) == "/tmp/tree.jsonl");
}

TEST_CASE("SOCKDIAG_COUNTERS takes the inherited fd of the shared counter table", "[config]") {
  Env env{{{"SOCKDIAG_COUNTERS", " fd:1000 "}, {"SOCKDIAG_SUMMARY", "/tmp/tree.jsonl"}}};
  Config cfg;
  std::string err;
  REQUIRE(env.parse(&cfg, &err));
  CHECK(cfg.counters_fd == 1000);
  Env alone{{{"SOCKDIAG_COUNTERS", "fd:3"}}};
  CHECK_FALSE(alone.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains("SOCKDIAG_COUNTERS needs SOCKDIAG_SUMMARY set to a file path"));
}

TEST_CASE("a bad value names the variable, the value and what is accepted", "[config]") {
  struct Case {
    const char* var;
    const char* value;
    const char* expect;
  } cases[] = {
      {"SOCKDIAG_LEVEL", "verbose", "SOCKDIAG_LEVEL: 'verbose' is not a level; accepted: off, error, info, debug, trace"},
      {"SOCKDIAG_LEVEL", "debgu", "(did you mean debug?)"},
      {"SOCKDIAG_FORMAT", "xml", "SOCKDIAG_FORMAT: 'xml' is not a format; accepted: text, json"},
      {"SOCKDIAG_SUMMARY", "maybe", "SOCKDIAG_SUMMARY: 'maybe' is not a yes/no value or an absolute file path"},
      {"SOCKDIAG_SIGPIPE", "drop", "accepted: ignore, keep"},
      {"SOCKDIAG_SECCOMP", "off", "SOCKDIAG_SECCOMP: 'off' is not a seccomp mode; accepted: standdown, keep"},
      {"SOCKDIAG_LOG", "", "SOCKDIAG_LOG: the value is empty"},
      {"SOCKDIAG_RETRY", "eintr,eagian", "'eagian' is not a retryable error; accepted: eintr, eagain, econnaborted (did you mean eagain?)"},
      {"SOCKDIAG_RETRY", "eagain@connect", "eagain cannot be retried for connect"},
      {"SOCKDIAG_RETRY", "econnaborted@recv", "ECONNABORTED comes from accept only"},
      {"SOCKDIAG_RETRY", "eintr@frobnicate", "'frobnicate' in 'eintr@frobnicate' is not a call"},
      {"SOCKDIAG_RETRY_TIMEOUT_MS", "10s", "'10s' is not a whole number"},
      {"SOCKDIAG_RETRY_MAX", "99999999999999999999999", "is too large"},
      {"SOCKDIAG_SEED", "-1", "is not a whole number"},
      {"SOCKDIAG_CONFIG", "", "SOCKDIAG_CONFIG is empty"},
      {"SOCKDIAG_COUNTERS", "7", "SOCKDIAG_COUNTERS: '7' is not an inherited fd; accepted: fd:N, N from 0 to 2147483647"},
      {"SOCKDIAG_COUNTERS", "fd:-1", "'fd:-1' is not an inherited fd"},
      {"SOCKDIAG_COUNTERS", "fd:4294967296", "'fd:4294967296' is not an inherited fd"},
      {"SOCKDIAG_CONFIG", "/nonexistent/sockdiag.conf", "cannot read '/nonexistent/sockdiag.conf'"},
  };
  for (const Case& c : cases) {
    INFO(c.var << "=" << c.value);
    Env env{{{c.var, c.value}}};
    Config cfg;
    std::string err;
    CHECK_FALSE(env.parse(&cfg, &err));
    CHECK_THAT(err, Catch::Contains(c.expect));
    CHECK(err.find('\n') == std::string::npos);
  }
}

TEST_CASE("a value with control characters is quoted escaped, on one line", "[config]") {
  Env env{{{"SOCKDIAG_FORMAT", "js\non\x1b[31m"}}};
  Config cfg;
  std::string err;
  CHECK_FALSE(env.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains("SOCKDIAG_FORMAT: 'js\\non\\x1b[31m' is not a format"));
  CHECK(err.find('\n') == std::string::npos);
  CHECK(err.find('\x1b') == std::string::npos);
  // A C1 control (CSI) and a byte that is not UTF-8 are escaped too; UTF-8 text stays.
  Env c1{{{"SOCKDIAG_LEVEL", "caf\xc3\xa9\xc2\x9b" "2J\xff"}}};
  CHECK_FALSE(c1.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains("SOCKDIAG_LEVEL: 'caf\xc3\xa9\\xc2\\x9b2J\\xff' is not a level"));
}

TEST_CASE("a misspelt SOCKDIAG_ variable is refused with a suggestion", "[config]") {
  Env env{{{"SOCKDIAG_LEVL", "debug"}}};
  Config cfg;
  std::string err;
  CHECK_FALSE(env.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains("unknown variable 'SOCKDIAG_LEVL'"));
  CHECK_THAT(err, Catch::Contains("did you mean SOCKDIAG_LEVEL?"));
}

TEST_CASE("a config file sets the same settings and the environment overrides it", "[config]") {
  std::string path = temp_file("# settings for a test\n level = info\nformat=json  # inline comment\n\nsummary = 1\n");
  Env env{{{"SOCKDIAG_CONFIG", path}, {"SOCKDIAG_FORMAT", "text"}}};
  Config cfg;
  std::string err;
  REQUIRE(env.parse(&cfg, &err));
  CHECK(cfg.level == Level::info);
  CHECK(cfg.format == Format::text);
  CHECK(cfg.summary);
  unlink(path.c_str());
}

TEST_CASE("a config file error gives the file, the line and the setting", "[config]") {
  std::string path = temp_file("level = info\nlevle = debug\n");
  Env env{{{"SOCKDIAG_CONFIG", path}}};
  Config cfg;
  std::string err;
  CHECK_FALSE(env.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains(path + ":2: unknown setting 'levle'"));
  CHECK_THAT(err, Catch::Contains("did you mean level?"));
  unlink(path.c_str());

  path = temp_file("format = yaml\n");
  Env env2{{{"SOCKDIAG_CONFIG", path}}};
  CHECK_FALSE(env2.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains(path + ":1: format: 'yaml' is not a format"));
  unlink(path.c_str());

  path = temp_file("just some words\n");
  Env env3{{{"SOCKDIAG_CONFIG", path}}};
  CHECK_FALSE(env3.parse(&cfg, &err));
  CHECK_THAT(err, Catch::Contains(path + ":1: expected 'key = value'"));
  unlink(path.c_str());
}

TEST_CASE("a misspelt word: swapped letters first, then the closest by edits", "[config]") {
  const char* names[] = {"pot", "port"};
  CHECK(std::string(sd::nearest_word("prot", names, 2)) == "pot");  // one deletion
  CHECK(std::string(sd::suggestion("prot", names, 2)) == "port");    // two letters swapped
  CHECK(sd::did_you_mean("prot", names, 2) == "; did you mean port?");
  CHECK(sd::suggestion("zzzzzz", names, 2) == nullptr);
  CHECK(sd::did_you_mean("zzzzzz", names, 2).empty());
}

TEST_CASE("values in messages: quoted, made inert, cut", "[config]") {
  CHECK(sd::quoted("a\nb") == "'a\\nb'");
  CHECK(sd::quoted(std::string(130, 'x')) == "'" + std::string(120, 'x') + "...'");
  // A rule's word is quoted the same way: a terminal escape in it is made inert.
  std::string word = sd::quoted("conn\x1b[31mect");
  CHECK(word.front() == '\'');
  CHECK(word.back() == '\'');
  CHECK(word.find('\x1b') == std::string::npos);
  CHECK(sd::text_escaped("a\\b\x1b") == "a\\\\b\\x1b");
  CHECK(sd::inert_escaped("a\\b\x1b") == "a\\b\\x1b");
}
