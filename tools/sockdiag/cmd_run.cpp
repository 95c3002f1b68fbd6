// `sockdiag run [options] -- CMD [ARGS...]`: CMD with the library preloaded
// and the options turned into its settings.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <memory>

#include "commands.h"
#include "counter_table.h"
#include "elf_inspect.h"
#include "escape.h"
#include "locate.h"
#include "log_sink.h"
#include "preload_blockers.h"
#include "record.h"
#include "record_channel.h"
#include "record_forwarder.h"
#include "replay_copy.h"
#include "rules.h"
#include "run_control_file.h"
#include "spawn.h"
#include "strace_rules.h"
#include "strace_engine.h"
#include "text.h"
#include "tree_summary.h"
#include "usage.h"

extern char** environ;

namespace sdcli {

namespace {

// The file where a process of the tree that cannot share the counter table
// appends its summary at exit; removed whatever happens to the run.
class SummaryFile {
 public:
  SummaryFile() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/sockdiag-summary-XXXXXX";
    int fd = mkstemp(path_.data());
    if (fd < 0) throw UsageError("cannot create the summary file " + path_ + ": " + std::strerror(errno));
    close(fd);
  }
  ~SummaryFile() { unlink(path_.c_str()); }
  SummaryFile(const SummaryFile&) = delete;
  SummaryFile& operator=(const SummaryFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The counter table the whole tree counts into (counter_table.h): a memfd,
// sealed at its size (a count can never fault on a shrunk table), inherited
// at a high number, which SOCKDIAG_COUNTERS tells the library. Memory, not a
// file: no path to open at exit, no owner or mode for a process that has
// dropped privileges to trip on, nothing written late for a signal to cut.
class SharedCounters {
 public:
  SharedCounters() {
    using sd::ctab::Table;
    int fd = memfd_create("sockdiag-counters", MFD_ALLOW_SEALING);
    if (fd < 0)
      throw UsageError(std::string("cannot create the shared counter table (memfd): ") + std::strerror(errno));
    if (ftruncate(fd, sizeof(Table)) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
      int err = errno;
      close(fd);
      throw UsageError(std::string("cannot size the shared counter table: ") + std::strerror(err));
    }
    void* p = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      close(fd);
      throw UsageError(std::string("cannot map the shared counter table: ") + std::strerror(err));
    }
    table_ = static_cast<Table*>(p);
    sd::ctab::Header& h = table_->header;
    h.magic = sd::ctab::kMagic;
    h.version = sd::ctab::kVersion;
    h.size = sizeof(Table);
    h.slot_count = sd::ctab::kSlots;
    h.call_count = sd::ctab::kCallCount;
    h.calls_hash = sd::ctab::calls_hash();
    // High, as the library places its own fds, so that the program's fds
    // keep the numbers they would have; inherited (no FD_CLOEXEC) by CMD.
    rlimit rl{};
    rlim_t top = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top) top = rl.rlim_cur;
    fd_ = fcntl(fd, F_DUPFD, top > 32 ? static_cast<int>(top) - 32 : 3);
    if (fd_ < 0) fd_ = fd;
    else close(fd);
  }
  ~SharedCounters() {
    munmap(table_, sizeof(sd::ctab::Table));
    close(fd_);
  }
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;
  int fd() const { return fd_; }
  const sd::ctab::Table& table() const { return *table_; }

 private:
  int fd_ = -1;
  sd::ctab::Table* table_ = nullptr;
};

// The user's own LD_PRELOAD entries, in order, without our library (ld.so
// accepts spaces and colons between entries), joined by ':'.
std::string user_preloads(const std::string& library) {
  std::string value;
  const char* user = std::getenv("LD_PRELOAD");
  if (!user) return value;
  std::string rest = user;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    std::size_t end = rest.find_first_of(" :", pos);
    std::string entry = rest.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (!entry.empty() && entry != library) value += (value.empty() ? "" : ":") + entry;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return value;
}

// Our library in front, the user's own preloads kept after it, in order. A
// second copy of our own path is dropped: it would be loaded once anyway.
std::string preload_value(const std::string& library) {
  std::string rest = user_preloads(library);
  return rest.empty() ? library : library + ":" + rest;
}

// CMD's environment: ours without the SOCKDIAG_ variables (they are this
// command's settings) and LD_PRELOAD, then `extra`.
std::vector<std::string> cmd_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "SOCKDIAG_", 9) == 0 || std::strncmp(*e, "LD_PRELOAD=", 11) == 0) continue;
    env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// `sockdiag run --engine strace`, or auto for `why` ("is statically linked").
// `go`: the program is a Go program, which always runs several threads.
int run_strace_engine(const RunOptions& o, const std::string& why, bool go) {
  if (!o.replay.empty())
    throw UsageError("--replay needs the library, and " + one_line(o.cmd[0]) + " would run under the strace engine" +
                     (why.empty() ? "" : " (it " + one_line(why) + ")") +
                     "; accepted: --replay with a program the library can load (--engine preload or auto)");
  Settings settings(o.settings, environ);
  const sd::Config config = settings.validate();
  if (names_sink(config.log) || std::strncmp(config.log, "unix:", 5) == 0)
    throw UsageError(settings.name_of("SOCKDIAG_LOG", "log") + ": " + sd::quoted(config.log) +
                     ": the sinks of the command (journald, syslog, rotate:, daily:, terminal) and unix: take "
                     "records from the library only; with --engine strace, accepted: stderr or a file");
  settings.check_destinations(config);
  check_strace_settings(settings, config);
  // The rules as strace's -e inject: all of them, or the run does not start.
  std::vector<RuleMapping> rules = map_rules(config.rules, go);
  if (!all_mappable(rules)) {
    for (const std::string& line : refusal_lines(rules)) std::fprintf(stderr, "sockdiag run: %s\n", line.c_str());
    return kUsageStatus;
  }
  std::string strace = strace_or_refusal();
  if (!why.empty())
    std::fprintf(stderr, "sockdiag: %s %s: observed through strace (--engine strace; sockdiag doctor %s says why)\n",
                 one_line(o.cmd[0]).c_str(), one_line(why).c_str(), one_line(o.cmd[0]).c_str());
  std::vector<std::string> extra;
  std::string library = find_library(nullptr);
  std::string preloads = user_preloads(library);
  if (!preloads.empty()) extra.push_back("LD_PRELOAD=" + preloads);
  for (const std::string& line : warning_lines(rules, go)) std::fprintf(stderr, "sockdiag: %s\n", line.c_str());
  return run_under_strace(o, config, strace, cmd_environment(extra), rules);
}

bool draws_from_seed(const sd::RuleSet* rules) {
  for (uint32_t i = 0; rules && i < rules->count; ++i)
    if (sd::rule_draws(rules->rules[i])) return true;
  return false;
}

void say_seed(unsigned long long seed, sd::Format format) {
  std::string text = "injection seed " + std::to_string(seed) + " for every process of this run (--seed " +
                     std::to_string(seed) + " replays it)";
  if (format == sd::Format::json)
    std::fprintf(stderr, "%s\n",
                 nlohmann::json{{"v", sd::kRecordSchemaVersion}, {"level", "info"}, {"seed", seed}, {"message", text}}.dump().c_str());
  else
    std::fprintf(stderr, "sockdiag: %s\n", text.c_str());
}

}  // namespace

int run_command(const RunOptions& o) {
  if (o.cmd.empty()) throw UsageError("missing CMD; usage: sockdiag run [options] -- CMD [ARGS...]");
  // auto: the strace engine for what no LD_PRELOAD library sees (a static or
  // Go program, or a script run by one), the library otherwise.
  Engine engine = parse_engine(o.engine);
  std::string decider;
  ElfFacts facts;
  bool unseen = deciding_program(o.cmd[0], &decider, &facts) && needs_strace(facts);
  if (engine == Engine::strace || (engine == Engine::automatic && unseen)) {
    std::string why;
    if (engine == Engine::automatic) {
      why = facts.go_evidence.empty() ? "is statically linked" : "is a Go program";
      if (decider != find_in_path(o.cmd[0])) why = "is run by " + decider + ", which " + why;
    }
    return run_strace_engine(o, why, !facts.go_evidence.empty());
  }
  std::vector<std::string> tried;
  std::string library = find_library(&tried);
  if (library.empty()) {
    std::string where;
    for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
    throw UsageError("cannot find the library " SOCKDIAG_LIBRARY_FILE "; looked for " + where);
  }
  if (library.find_first_of(" :") != std::string::npos)
    throw UsageError("the library's path " + sd::quoted(library) +
                     " holds a space or ':', which LD_PRELOAD cannot express; install sockdiag under a path "
                     "without them");

  Settings settings(o.settings, environ);
  std::unique_ptr<SummaryFile> summary;
  std::unique_ptr<SharedCounters> counters;
  if (o.summary) {
    summary = std::make_unique<SummaryFile>();
    counters = std::make_unique<SharedCounters>();
    settings.set("SOCKDIAG_SUMMARY", summary->path(), "--summary");
    settings.set("SOCKDIAG_COUNTERS", "fd:" + std::to_string(counters->fd()), "--summary");
  }
  if (!o.follow_children) {
    bool supported = false;
    for (const char* const* v = sd::kVariables; *v; ++v)
      supported = supported || std::strcmp(*v, kFollowChildrenVariable) == 0;
    if (!supported)
      throw UsageError(std::string("--no-follow-children needs a library that reads ") + kFollowChildrenVariable +
                       ", and this one does not");
    settings.set(kFollowChildrenVariable, "no", "--no-follow-children");
  }
  // A replay: the faults of an earlier run, in place of any rule (the
  // library refuses both at once, in terms of these options).
  std::unique_ptr<ReplayCopy> replay;
  if (!o.replay.empty()) {
    replay = std::make_unique<ReplayCopy>(o.replay);
    settings.set("SOCKDIAG_REPLAY", replay->path(), "--replay");
  }
  // Live control of the whole tree, named by this command's pid.
  settings.set("SOCKDIAG_CONTROL", o.control ? "run:" + std::to_string(getpid()) : "no", "--control");
  sd::Config config = settings.validate();
  // A sink of this command (journald, syslog, rotate:...): the library
  // writes to a channel this command reads and forwards (record_channel.h).
  const sd::Format user_format = config.format;
  std::shared_ptr<RecordForwarder> forwarder;
  std::unique_ptr<RecordChannel> channel;
  if (names_sink(config.log)) {
    LogSink sink = parse_log_sink(config.log, settings.name_of("SOCKDIAG_LOG", "log"));
    forwarder = make_forwarder(sink, user_format);
    channel = std::make_unique<RecordChannel>();
    settings.set("SOCKDIAG_LOG", channel->path(), "--log");
    settings.set("SOCKDIAG_FORMAT", channel_format(sink, user_format) == sd::Format::json ? "json" : "text",
                 "--format");
    config = settings.validate();
  }
  settings.check_destinations(config);
  // One seed for the whole tree: drawn here, given to CMD in its
  // environment, said once. Each process draws from it and its program's
  // name (INJECT.md, "Reproducible runs").
  if (!config.seed_set && !config.replay && draws_from_seed(config.rules)) {
    unsigned long long seed = sd::seed_from_clock();
    settings.set("SOCKDIAG_SEED", std::to_string(seed), "--seed");
    if (config.level >= sd::Level::info) say_seed(seed, user_format);
  }

  // The rules the run's processes start with, for `sockdiag ctl --run` to
  // change for those started later (run_control_file.h).
  std::unique_ptr<RunControlFile> run_file;
  if (o.control) {
    run_file = std::make_unique<RunControlFile>(config.rules);
    if (!run_file->made())
      std::fprintf(stderr, "sockdiag: the run's control file %s: `sockdiag ctl --run %d` changes only the "
                   "processes running at the time\n", run_file->why().c_str(), static_cast<int>(getpid()));
  }

  std::vector<std::string> extra;
  for (const auto& [name, value] : settings.variables()) extra.push_back(name + "=" + value);
  extra.push_back("LD_PRELOAD=" + preload_value(library));
  std::vector<std::string> env = cmd_environment(extra);

  // A static or Go program never loads the library (--engine preload): one
  // line, then it runs.
  std::string blockers = preload_blockers_of(o.cmd[0]);
  if (!blockers.empty())
    std::fprintf(stderr, "sockdiag: %s runs unobserved: %s (sockdiag doctor %s)\n", one_line(o.cmd[0]).c_str(),
                 one_line(blockers).c_str(), one_line(o.cmd[0]).c_str());
  // With --summary, the summary is the whole tree's: daemons that CMD
  // leaves running are waited for too (spawn.h).
  SpawnHooks hooks;
  uint64_t sink_dropped = 0;
  if (channel) {
    channel->start(forwarder);
    hooks.after_cmd = [&channel, &sink_dropped]() { sink_dropped = channel->drain(); };
  }
  // A sink waits for the whole tree too: the channel must stay open while
  // any process of it lives, also between one process's exec (which closes
  // its end) and the new program's opening it again.
  ChildExit child = spawn_and_wait(o.cmd, env, o.summary || channel, hooks);
  if (summary && child.started) {
    TreeSummary tree;
    tree.read_table(counters->table(), config.rules);
    tree.read_file(summary->path());
    tree.add_dropped(sink_dropped);
    if (child.tree_running) tree.set_still_running();
    if (user_format == sd::Format::json)
      tree.print_json(stderr);
    else
      tree.print_text(stderr);
  }
  return shell_status(child, o.cmd.front());
}

Command add_run(CLI::App& root, const CommandTail* tail) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* sub = root.add_subcommand("run",
                                      "Run CMD with the library preloaded: every failed socket call is "
                                      "recorded and explained.");
  set_usage(sub, "sockdiag run [OPTIONS] -- CMD [ARGS...]");
  add_setting_options(*sub, opts->settings);
  sub->add_flag("-s,--summary", opts->summary,
                "When CMD and every process it started have ended, print one summary for the whole process "
                "tree: counts by call and code, with failures, events, expected flow and injection notices "
                "apart, retries, failures by peer, injections by rule, calls not observed (on stderr). "
                "Counts survive deaths by signal, _exit and privilege drops.");
  sub->add_flag_callback(
      "--follow-children", [opts]() { opts->follow_children = true; },
      "Programs that CMD starts are observed too: they inherit the library (default).");
  sub->add_flag_callback(
      "--no-follow-children", [opts]() { opts->follow_children = false; },
      "Only CMD's own process is observed: the programs it starts run without the library.");
  sub->add_flag_callback(
      "--control", [opts]() { opts->control = true; },
      "`sockdiag ctl --run PID` (PID: this command's) may change the rules of every process of the tree "
      "while it runs (default; see sockdiag ctl --help).");
  sub->add_flag_callback(
      "--no-control", [opts]() { opts->control = false; }, "No process of the tree can be controlled.");
  sub->add_option("--replay", opts->replay,
                  "Inject exactly the faults of an earlier run, at the same calls, and no other: FILE is that "
                  "run's JSON log (--format json --level info --log FILE: a delay's record is a notice, which level "
                  "error leaves out). A call is found by its program, its connection "
                  "(the K-th to the same peer) and its index on it, never by pid or time; a jittered delay "
                  "lasts what it drew then. Replaces the rules: not with --inject. See INJECT.md, \"Replaying "
                  "a run\".")
      ->type_name("FILE");
  sub->add_option("--engine", opts->engine,
                  "How CMD is observed: preload (the library, LD_PRELOAD), strace (system calls traced by "
                  "strace, for static and Go programs; no --retry, no --sigpipe ignore), or auto (default): "
                  "strace for a static or Go program, or a script run by one, the library otherwise.")
      ->type_name("auto|preload|strace");
  sub->allow_extras();
  sub->prefix_command();
  sub->footer(
      "CMD runs with LD_PRELOAD set to the library, in front of any LD_PRELOAD already set, and with "
      "the SOCKDIAG_ variables of the environment overridden by the options. Every setting is checked "
      "before CMD starts.\n\n"
      "Exit status: CMD's own; 128+N when CMD is killed by signal N (reported on stderr); 127 when CMD is "
      "not found; 126 when it cannot be executed; 2 for bad options or settings.\n\n"
      "Examples:\n"
      "  sockdiag run -- curl -sS http://localhost:8080/\n"
      "  sockdiag run --summary --level info -- ./server --port 8080\n"
      "  sockdiag run --inject 'connect:error=ECONNREFUSED:port=5432:nth=1..3' -- ./app\n"
      "  sockdiag run --format json --level info --log run1.json --inject 'recv:delay=1ms..9ms:prob=0.1' -- ./app\n"
      "  sockdiag run --format json --level info --log run2.json --replay run1.json -- ./app\n"
      "  sockdiag run --format json --log /tmp/app.%p.json -- ./app && sockdiag report /tmp/app.*.json");
  auto action = [sub, opts, tail]() {
    // Without "--", CLI11 stops at the first word that is not ours (prefix
    // command): CMD, or a misspelt option.
    std::vector<std::string> rest = sub->remaining();
    if (tail->present) {
      reject_extras(*sub, rest);
      opts->cmd = tail->words;
    } else {
      if (!rest.empty() && rest.front().size() > 1 && rest.front()[0] == '-') reject_extras(*sub, rest);
      opts->cmd = rest;
    }
    return run_command(*opts);
  };
  return {sub, action};
}

}  // namespace sdcli
