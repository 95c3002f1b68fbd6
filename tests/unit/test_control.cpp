// Live control (shim/core/rule_image.h, shim/core/control_file.h,
// tools/sockdiag/control_files.h): a rule set's relocatable image, checked
// and taken back whole, and the control file's protocol as `sockdiag ctl`
// writes it.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "control_file.h"
#include "control_files.h"
#include "rule_image.h"
#include "rules.h"
#include "run_control_file.h"

using namespace sd;

namespace {

const char* const kRules =
    "connect:error=ECONNREFUSED:port=8080\n"
    "recv:reset:peer=[::1]:5432:nth=3..\n"
    "send:short=1K:peer=/run/x.sock:prog=curl*\n"
    "dns:error=EAI_AGAIN:host=*.internal:prob=25%\n"
    "io:delay=20ms:net=10.0.0.0/8:after_bytes=4K:times=2";

std::unique_ptr<RuleSet, void (*)(RuleSet*)> parse(const char* text) {
  std::string err;
  RuleSet* s = parse_rules(text, "test", &err);
  INFO(err);
  REQUIRE(s);
  return {s, free_rules};
}

// An image copied into memory of its own, as the library does, with counters.
struct Loaded {
  std::vector<uint64_t> mem;
  std::vector<RuleCounters> counters;
  RuleSet* set = nullptr;
  const char* wrong = nullptr;
  explicit Loaded(const std::string& image) : mem(image.size() / 8 + 1), counters(kMaxRules) {
    std::memcpy(mem.data(), image.data(), image.size());
    wrong = check_rule_image(mem.data(), image.size());
    if (!wrong) set = relocate_rule_image(mem.data(), image.size(), counters.data());
  }
};

}  // namespace

TEST_CASE("a rule set's image comes back as the same rules, matching the same calls") {
  auto set = parse(kRules);
  Loaded l(rule_image(*set));
  REQUIRE(l.wrong == nullptr);
  CHECK(format_rules(*l.set) == format_rules(*set));
  CHECK(l.set->call_mask == set->call_mask);
  CHECK(l.set->peer_only_mask == set->peer_only_mask);
  CHECK(std::string(l.set->rules[0].target) == "connect");
  MatchInput in;
  in.call = CallId::connect;
  in.family = AF_INET;
  in.sock_type = SOCK_STREAM;
  uint8_t addr[16] = {127, 0, 0, 1};
  in.peer_addr = addr;
  in.peer_port = 8080;
  Matched m;
  REQUIRE(match_rules(*l.set, in, &m) == 1);
  CHECK(m.rule[0]->index == 0);
  CHECK(injections(*l.set, 0) == 1);
  CHECK(injections(*set, 0) == 0);  // the copy counts apart
  in.peer_port = 8081;
  CHECK(match_rules(*l.set, in, &m) == 0);
}

TEST_CASE("an empty set has an image too") {
  RuleSet empty;
  Loaded l(rule_image(empty));
  REQUIRE(l.wrong == nullptr);
  CHECK(l.set->count == 0);
  CHECK(!may_match(l.set, CallId::connect));
}

TEST_CASE("a damaged image is refused before anything in it is used") {
  auto set = parse(kRules);
  std::string image = rule_image(*set);
  SECTION("cut short") {
    std::string cut = image.substr(0, image.size() - 10);
    Loaded l(cut);
    CHECK(l.wrong != nullptr);
  }
  SECTION("a string's offset beyond the end") {
    std::string bad = image;
    RuleSet head;
    std::memcpy(&head, bad.data(), sizeof(head));
    Rule r;
    std::size_t at = reinterpret_cast<uintptr_t>(head.rules);
    std::memcpy(&r, bad.data() + at, sizeof(r));
    r.text = reinterpret_cast<const char*>(uintptr_t{1} << 40);
    std::memcpy(&bad[at], &r, sizeof(r));
    CHECK(Loaded(bad).wrong != nullptr);
  }
  SECTION("an index naming no rule") {
    std::string bad = image;
    RuleSet head;
    std::memcpy(&head, bad.data(), sizeof(head));
    uint16_t wrong = 999;
    std::memcpy(&bad[reinterpret_cast<uintptr_t>(head.by_call)], &wrong, sizeof(wrong));
    CHECK(Loaded(bad).wrong != nullptr);
  }
  SECTION("too many rules said") {
    std::string bad = image;
    RuleSet head;
    std::memcpy(&head, bad.data(), sizeof(head));
    head.count = kMaxRules + 1;
    std::memcpy(&bad[0], &head, sizeof(head));
    CHECK(Loaded(bad).wrong != nullptr);
  }
}

TEST_CASE("ctl publishes a set into the buffer not in force, then raises the generation") {
  auto f = std::make_unique<ctlfile::File>();
  std::memset(static_cast<void*>(f.get()), 0, sizeof(*f));
  f->header.seed = 77;
  auto first = parse("connect:error=ECONNREFUSED:port=8080");
  REQUIRE(sdcli::publish_rules(*f, *first).empty());
  CHECK(f->header.generation.load() == 1);
  CHECK(f->header.pending.load() == 1);  // what the hooks look at
  CHECK(f->header.active.load() == 1);
  CHECK(f->buffers[1].serial.load() == 1);
  CHECK(sdcli::rules_in_file(*f) == std::vector<std::string>{"connect:error=ECONNREFUSED:port=8080"});
  // The process's seed travels with every set.
  RuleSet head;
  std::memcpy(&head, f->buffers[1].image, sizeof(head));
  CHECK(head.seed == 77);

  auto second = parse(kRules);
  REQUIRE(sdcli::publish_rules(*f, *second).empty());
  CHECK(f->header.generation.load() == 2);
  CHECK(f->header.active.load() == 0);
  CHECK(f->buffers[0].serial.load() == 2);
  CHECK(sdcli::rules_in_file(*f).size() == 5);
  // The set before stays whole in its buffer until the next change.
  std::vector<uint64_t> copy(f->buffers[1].size.load() / 8 + 1);
  std::memcpy(copy.data(), f->buffers[1].image, f->buffers[1].size.load());
  CHECK(check_rule_image(copy.data(), f->buffers[1].size.load()) == nullptr);

  sdcli::publish_paused(*f, true);
  CHECK(f->header.paused.load() == 1);
  CHECK(f->header.generation.load() == 3);
  CHECK(f->header.active.load() == 0);  // the rules stay
  sdcli::publish_paused(*f, false);
  CHECK(f->header.paused.load() == 0);
  CHECK(f->header.generation.load() == 4);
}

TEST_CASE("ctl reads the counters of the set in force only") {
  auto f = std::make_unique<ctlfile::File>();
  std::memset(static_cast<void*>(f.get()), 0, sizeof(*f));
  auto set = parse("connect:error=ECONNREFUSED\nrecv:eof");
  REQUIRE(sdcli::publish_rules(*f, *set).empty());
  uint64_t seen = 0, injected = 0;
  CHECK(!sdcli::rule_counts(*f, 0, &seen, &injected));  // not taken in yet
  // As the library does when it takes the set in.
  f->header.counters_at.store(10);
  f->header.counters_shared.store(1);
  f->header.counted_serial.store(f->buffers[1].serial.load());
  f->counters[11].seen.store(5);
  f->counters[11].injected.store(3);
  REQUIRE(sdcli::rule_counts(*f, 1, &seen, &injected));
  CHECK(seen == 5);
  CHECK(injected == 3);
  REQUIRE(sdcli::publish_rules(*f, *set).empty());
  CHECK(!sdcli::rule_counts(*f, 1, &seen, &injected));  // a newer set, not counted there yet
}

TEST_CASE("ctl refuses a change past the sets a process keeps") {
  auto f = std::make_unique<ctlfile::File>();
  std::memset(static_cast<void*>(f.get()), 0, sizeof(*f));
  f->header.pid = 42;
  f->header.sets_taken.store(ctlfile::kMaxSets - 1);
  auto set = parse("connect:error=ECONNREFUSED");
  std::string err = sdcli::publish_rules(*f, *set);
  CHECK(err.find("process 42 took in 250 rule sets") == 0);
  CHECK(f->header.generation.load() == 0);
}

TEST_CASE("the control directory and file names") {
  char path[64];
  REQUIRE(ctlfile::dir_path("/run/user/1000", 1000, path, sizeof(path)));
  CHECK(std::string(path) == "/run/user/1000/sockdiag");
  REQUIRE(ctlfile::dir_path("relative", 1000, path, sizeof(path)));
  CHECK(std::string(path) == "/tmp/sockdiag-1000");
  REQUIRE(ctlfile::dir_path(nullptr, 0, path, sizeof(path)));
  CHECK(std::string(path) == "/tmp/sockdiag-0");
  char small[8];
  CHECK(!ctlfile::dir_path(nullptr, 1000, small, sizeof(small)));
  char name[24];
  ctlfile::file_name(31337, name);
  CHECK(std::string(name) == "31337.ctl");
  ctlfile::file_name(31337, name, ".run");
  CHECK(std::string(name) == "31337.run");
}

TEST_CASE("a run file holds the run's starting rules, found by --run and changed by ctl, removed at the end") {
  char tmp[] = "/tmp/sockdiag-unit-XXXXXX";
  REQUIRE(mkdtemp(tmp));
  const char* before = std::getenv("XDG_RUNTIME_DIR");
  std::string saved = before ? before : "";
  setenv("XDG_RUNTIME_DIR", tmp, 1);
  std::string dir = std::string(tmp) + "/sockdiag";
  std::string path = dir + "/" + std::to_string(getpid()) + ".run";
  auto start = parse("connect:error=ECONNREFUSED:port=8080");
  {
    sdcli::RunControlFile run(start.get());
    INFO(run.why());
    REQUIRE(run.made());
    CHECK(access(path.c_str(), F_OK) == 0);
    sdcli::Selection mine{std::nullopt, static_cast<uint64_t>(getpid())};
    std::string problems;
    {
      std::vector<sdcli::ControlledProcess> runs = sdcli::find_runs({dir}, mine, &problems);
      REQUIRE(runs.size() == 1);
      const ctlfile::Header& h = runs[0].file().header;
      CHECK(h.generation.load() == 1);  // never changed: processes start from SOCKDIAG_INJECT
      CHECK(h.run_id == static_cast<uint64_t>(getpid()));
      CHECK(sdcli::rules_in_file(runs[0].file()) == std::vector<std::string>{"connect:error=ECONNREFUSED:port=8080"});
      auto next = parse(kRules);
      REQUIRE(sdcli::publish_rules(runs[0].file(), *next).empty());
      sdcli::publish_paused(runs[0].file(), true);
    }
    {
      // The change is in the file for processes that start later.
      std::vector<sdcli::ControlledProcess> again = sdcli::find_runs({dir}, mine, &problems);
      REQUIRE(again.size() == 1);
      CHECK(again[0].file().header.generation.load() == 3);
      CHECK(again[0].file().header.paused.load() == 1);
      CHECK(sdcli::rules_in_file(again[0].file()).size() == 5);
    }  // unlocked: the lookups below lock it again
    // Another run, and --pid, find no run file; no process file is taken for one.
    CHECK(sdcli::find_runs({dir}, sdcli::Selection{std::nullopt, 1}, &problems).empty());
    CHECK(sdcli::find_runs({dir}, sdcli::Selection{getpid(), std::nullopt}, &problems).empty());
    CHECK(sdcli::find_processes({dir}, mine, &problems).empty());
    CHECK(problems.empty());
  }
  CHECK(access(path.c_str(), F_OK) != 0);
  if (before) setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  else unsetenv("XDG_RUNTIME_DIR");
  rmdir(dir.c_str());
  rmdir(tmp);
}

TEST_CASE("a process's start time is read past a name holding blanks and parentheses") {
  const char* stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
  CHECK(ctlfile::stat_start_time(stat) == 987654);
  CHECK(ctlfile::stat_start_time("no parenthesis") == 0);
}
