// `sockdiag ctl`: changes the fault-injection rules of running processes
// (their control files, control_files.h), reads them and their counters.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>

#include "commands.h"
#include "control_files.h"
#include "escape.h"
#include "usage.h"

namespace sdcli {

namespace {

struct CtlOptions {
  std::optional<int> pid;
  std::optional<uint64_t> run;
  std::string format = "text";
  std::string action;
  std::vector<std::string> args;
};

constexpr const char* kActions[] = {"list", "counters", "add", "remove", "replace", "clear", "pause", "resume"};

// The rules in force after the action, for those that change them; parsed
// by the parser of start-up, so they are checked, and refused, the same way.
// nullptr: the action leaves the rules alone. Throws UsageError.
std::unique_ptr<sd::RuleSet, void (*)(sd::RuleSet*)> rules_after(const CtlOptions& o,
                                                                const std::vector<std::string>& in_force) {
  auto none = std::unique_ptr<sd::RuleSet, void (*)(sd::RuleSet*)>(nullptr, sd::free_rules);
  const std::string& a = o.action;
  if (a != "add" && a != "remove" && a != "replace" && a != "clear") return none;
  std::string given;
  for (const std::string& w : o.args) given += (given.empty() ? "" : " ") + w;
  std::string err;
  sd::RuleParser p;
  if (a == "add" || a == "replace") {
    if (given.empty()) throw UsageError(a + " needs RULES, e.g. 'connect:error=ECONNREFUSED:port=8080'");
    // The given rules alone first: their errors name their own columns.
    sd::RuleParser check;
    if (!check.add(given, "RULES", 0, &err)) throw UsageError(err);
    sd::free_rules(check.finish());
  }
  std::vector<std::string> keep;
  if (a == "add") keep = in_force;
  if (a == "remove") {
    if (given.empty()) throw UsageError("remove needs a rule's number (from `sockdiag ctl list`) or its text");
    std::string wanted;
    if (given.find_first_not_of("0123456789") == std::string::npos) {
      std::size_t n = std::stoul(given);
      if (n == 0 || n > in_force.size())
        throw UsageError("no rule number " + given + ": " + std::to_string(in_force.size()) + " in force");
      wanted = in_force[n - 1];
    } else {
      sd::RuleSet* one = sd::parse_rules(given, "RULES", &err);
      if (!one) throw UsageError(err);
      std::string text = one->count == 1 ? one->rules[0].text : "";
      sd::free_rules(one);
      if (text.empty()) throw UsageError("remove takes one rule");
      wanted = text;
    }
    bool found = false;
    for (const std::string& r : in_force) {
      if (r == wanted && !found) found = true;
      else keep.push_back(r);
    }
    if (!found) throw UsageError("no rule " + sd::quoted(wanted) + " is in force");
  }
  std::string text;
  for (const std::string& r : keep) text += r + "\n";
  if (!p.add(text, "the rules in force", 0, &err)) throw UsageError(err);
  if ((a == "add" || a == "replace") && !p.add(given, "RULES", 0, &err)) throw UsageError(err);
  return std::unique_ptr<sd::RuleSet, void (*)(sd::RuleSet*)>(p.finish(), sd::free_rules);
}

nlohmann::json describe(ControlledProcess& p) {
  const sd::ctlfile::Header& h = p.file().header;
  nlohmann::json j;
  j["pid"] = h.pid;
  j["prog"] = std::string(h.prog, strnlen(h.prog, sizeof(h.prog)));
  j["run"] = h.run_id;
  j["paused"] = h.paused.load() != 0;
  j["generation"] = h.generation.load();
  j["applied"] = h.applied.load();
  // Injections the tally by call and peer had no room for (they are in the rules' counts).
  j["untallied"] = p.file().tally.untallied.load(std::memory_order_relaxed);
  nlohmann::json rules = nlohmann::json::array();
  std::vector<std::string> texts = rules_in_file(p.file());
  for (uint32_t i = 0; i < texts.size(); ++i) {
    nlohmann::json r{{"index", i + 1}, {"rule", texts[i]}};
    uint64_t seen = 0, injected = 0;
    if (rule_counts(p.file(), i, &seen, &injected)) {
      r["seen"] = seen;
      r["injected"] = injected;
      nlohmann::json by = nlohmann::json::array();
      for (const TallyRow& row : rule_tally(p.file(), i))
        by.push_back({{"call", row.call}, {"peer", row.peer}, {"injected", row.injected}});
      r["by_peer"] = by;
    } else {
      r["seen"] = nullptr;
      r["injected"] = nullptr;
    }
    rules.push_back(r);
  }
  j["rules"] = rules;
  return j;
}

void print_text(const nlohmann::json& j, bool counters) {
  std::printf("%d %s%s%s\n", j["pid"].get<int>(), j["prog"].get<std::string>().c_str(),
              j["run"].get<uint64_t>() ? (" (sockdiag run " + std::to_string(j["run"].get<uint64_t>()) + ")").c_str() : "",
              j["paused"].get<bool>() ? ", paused" : "");
  if (j["rules"].empty()) std::printf("  no rule\n");
  for (const nlohmann::json& r : j["rules"]) {
    if (!counters) {
      std::printf("  %d  %s\n", r["index"].get<int>(), r["rule"].get<std::string>().c_str());
    } else if (r["seen"].is_null()) {
      std::printf("  %d  %s  (not counted where ctl can read)\n", r["index"].get<int>(), r["rule"].get<std::string>().c_str());
    } else {
      std::printf("  %d  %s  seen %llu, injected %llu\n", r["index"].get<int>(), r["rule"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(r["seen"].get<uint64_t>()),
                  static_cast<unsigned long long>(r["injected"].get<uint64_t>()));
      for (const nlohmann::json& by : r["by_peer"])
        std::printf("       %s %s: %llu\n", by["call"].get<std::string>().c_str(),
                    by["peer"].get<std::string>().empty() ? "(peer not known)" : by["peer"].get<std::string>().c_str(),
                    static_cast<unsigned long long>(by["injected"].get<uint64_t>()));
    }
  }
}

int run_ctl(const CtlOptions& o) {
  bool known = false;
  for (const char* a : kActions) known = known || o.action == a;
  if (!known)
    throw UsageError(sd::quoted(o.action) + " is not an action; accepted: list, counters, add, remove, replace, clear, "
                     "pause, resume");
  if (o.format != "text" && o.format != "json")
    throw UsageError("--format " + sd::quoted(o.format) + " is not a format; accepted: text, json");
  bool takes_args = o.action == "add" || o.action == "remove" || o.action == "replace";
  if (!takes_args && !o.args.empty()) throw UsageError(o.action + " takes no argument, found " + sd::quoted(o.args[0]));
  Selection sel{o.pid, o.run};
  std::string problems;
  // The runs' files first, then the processes: every file is locked until
  // ctl returns (control_files.h, find_runs).
  std::vector<ControlledProcess> runs = find_runs(control_dirs(sel), sel, &problems);
  std::vector<ControlledProcess> procs = find_processes(control_dirs(sel), sel, &problems);
  if (procs.empty() && runs.empty()) {
    std::fprintf(stderr, "sockdiag ctl: no process to control%s%s (a process is controllable under `sockdiag run`, "
                 "or with SOCKDIAG_CONTROL=yes)\n%s",
                 o.pid ? (" with pid " + std::to_string(*o.pid)).c_str() : "",
                 o.run ? (" in sockdiag run " + std::to_string(*o.run)).c_str() : "", problems.c_str());
    return 1;
  }
  // Every new set is made and checked before any process is changed: a
  // refusal changes nothing anywhere.
  // The runs' files come first in `all`: a process started meanwhile takes
  // its run's new set (run_control_file.h).
  std::vector<ControlledProcess*> all_files;
  for (ControlledProcess& r : runs) all_files.push_back(&r);
  for (ControlledProcess& p : procs) all_files.push_back(&p);
  std::vector<std::unique_ptr<sd::RuleSet, void (*)(sd::RuleSet*)>> sets;
  for (ControlledProcess* p : all_files) sets.push_back(rules_after(o, rules_in_file(p->file())));
  for (std::size_t i = 0; i < all_files.size(); ++i) {
    std::string why = sets[i] ? cannot_take(all_files[i]->file(), *sets[i]) : "";
    if (!why.empty()) {
      std::fprintf(stderr, "sockdiag ctl: %s; no process was changed\n", why.c_str());
      return 1;
    }
  }
  for (std::size_t i = 0; i < all_files.size(); ++i) {
    if (!sets[i]) continue;
    std::string err = publish_rules(all_files[i]->file(), *sets[i]);
    if (!err.empty()) {
      std::fprintf(stderr, "sockdiag ctl: %s\n", err.c_str());
      return 1;
    }
  }
  if (o.action == "pause" || o.action == "resume")
    for (ControlledProcess* p : all_files) publish_paused(p->file(), o.action == "pause");
  nlohmann::json all = nlohmann::json::array();
  for (ControlledProcess& p : procs) all.push_back(describe(p));
  if (o.format == "json") {
    // What the runs' processes started from now on begin with.
    nlohmann::json run_sets = nlohmann::json::array();
    for (ControlledProcess& r : runs) {
      const sd::ctlfile::Header& h = r.file().header;
      run_sets.push_back({{"run", h.run_id},
                          {"changed", h.generation.load() > 1},
                          {"paused", h.paused.load() != 0},
                          {"rules", rules_in_file(r.file())}});
    }
    std::printf("%s\n", nlohmann::json{{"processes", all}, {"runs", run_sets}}.dump().c_str());
  } else {
    for (const nlohmann::json& j : all) print_text(j, o.action == "counters");
  }
  return 0;
}

}  // namespace

Command add_ctl(CLI::App& root) {
  auto o = std::make_shared<CtlOptions>();
  CLI::App* sub = root.add_subcommand(
      "ctl", "Change the fault-injection rules of running processes, pause and resume them, read their counters.");
  set_usage(sub, "sockdiag ctl [--pid PID | --run RUN] [--format text|json] ACTION [RULES | N]");
  sub->add_option("--pid", o->pid, "Only this process.");
  sub->add_option("--run", o->run,
                  "The processes of this `sockdiag run` (its pid), and those it starts later.");
  sub->add_option("--format", o->format, "text (default) or json, for scripts.")->type_name("text|json");
  sub->add_option("action", o->action, "What to do (below).")->required();
  sub->add_option("args", o->args, "The rules (add, replace) or the rule (remove).");
  // One line a paragraph: CLI11 wraps each line of a footer on its own.
  sub->footer(
      "Actions:\n"
      "  list            the rules in force in each process, numbered from 1\n"
      "  counters        the same, with each rule's calls seen and faults injected, and its injections\n"
      "                  by call and peer (json: \"by_peer\")\n"
      "  add RULES       add rules after those in force (rules on one call compose: tools/INJECT.md)\n"
      "  remove N|RULE   remove rule number N (as list shows it), or that rule\n"
      "  replace RULES   make RULES the whole set\n"
      "  clear           remove every rule\n"
      "  pause, resume   stop injecting, and go on again\n"
      "\n"
      "RULES are written as for --inject (tools/INJECT.md) and checked by the same parser: a rule "
      "with an error is refused whole, with one line, and no process is changed.\n"
      "\n"
      "Which processes: --pid P changes P alone (a child it forks later starts with P's rules). "
      "--run N changes every process of that `sockdiag run` and also the rules its processes "
      "started later begin with (programs exec'd, new children). Without either, every process "
      "of this user that can be controlled is changed, and every run: those started by "
      "`sockdiag run` (unless --no-control) and those started with LD_PRELOAD and "
      "SOCKDIAG_CONTROL=yes.\n"
      "\n"
      "A process takes a change in at its first socket call after ctl returns, whole, never a "
      "part of a set; no thread is added to it and no signal sent. Each process counts its rules "
      "on its own: counters lists each process (json: \"seen\", \"injected\", null when the "
      "process counts that set where ctl cannot read it). Paused rules see no call. A connection "
      "keeps what a fault left (a reset, an end of stream), but a stall ends with its rule "
      "(remove, clear, pause): the data flows again, and calls blocked on it go on. Only the same "
      "user, or root, can control a process. A process takes in at most 250 rule sets.\n"
      "\n"
      "Examples:\n"
      "  sockdiag ctl --run 4242 add 'connect:error=ECONNREFUSED:port=8080'\n"
      "  sockdiag ctl --pid 4250 list\n"
      "  sockdiag ctl --run 4242 counters --format json\n"
      "  sockdiag ctl --run 4242 remove 1\n"
      "  sockdiag ctl --run 4242 clear\n"
      "\n"
      "Exit status: 0 done; 1 no process to control, or a process refused the change; 2 wrong "
      "usage or rules.");
  auto action = [o]() { return run_ctl(*o); };
  return {sub, action};
}

}  // namespace sdcli
