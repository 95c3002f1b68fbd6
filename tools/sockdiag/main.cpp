// sockdiag: one command to run a program with libsockdiag and to read what
// it says. Each subcommand lives in its own cmd_*.cpp.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>

#include "commands.h"
#include "nearest.h"
#include "text.h"
#include "usage.h"

int main(int argc, char** argv) {
  using namespace sdcli;
  // `sockdiag run [options] -- CMD...`: CMD is cut off before parsing.
  CommandTail tail;
  int parsed_argc = argc;
  if (argc > 1 && std::strcmp(argv[1], "run") == 0) {
    for (int i = 2; i < argc; ++i) {
      if (std::strcmp(argv[i], "--") != 0) continue;
      tail.present = true;
      tail.words.assign(argv + i + 1, argv + argc);
      parsed_argc = i;
      break;
    }
  }

  // `sockdiag run -- CMD...` with no option: nothing to parse, so none of
  // the command line's machinery is built (building every subcommand's
  // options was most of the command's own start-up, which `sockdiag run`
  // adds to every program it starts).
  if (tail.present && parsed_argc == 2) {
    RunOptions plain;
    plain.cmd = tail.words;
    try {
      return run_command(plain);
    } catch (const UsageError& e) {
      std::fprintf(stderr, "sockdiag run: %s\n", one_line(e.what()).c_str());
      return kUsageStatus;
    }
  }

  CLI::App app{"sockdiag " SOCKDIAG_VERSION
               ": see why a program's network calls fail. Runs a program with libsockdiag, which records "
               "every failed socket call with what failed, on which connection, what the error means there "
               "and what to do; and reads those records.",
               "sockdiag"};
  app.formatter(make_formatter());
  app.set_version_flag("--version", "sockdiag " SOCKDIAG_VERSION);
  app.require_subcommand(1, 1);
  set_usage(&app, "sockdiag COMMAND [OPTIONS] [ARGS...]");
  app.footer(
      "Start with: sockdiag demo\n\n"
      "Examples:\n"
      "  sockdiag run -- curl -sS http://localhost:8080/\n"
      "  sockdiag run --summary --inject 'connect:error=ECONNREFUSED:port=5432' -- ./app\n"
      "  sockdiag explain ECONNRESET --call recv\n"
      "  sockdiag run --format json --log /tmp/app.%p.json -- ./app; sockdiag report /tmp/app.*.json\n"
      "  sockdiag doctor /usr/bin/ping\n"
      "  LD_PRELOAD=$(sockdiag libpath) ./app\n\n"
      "'sockdiag COMMAND --help' describes each command; man sockdiag has the rest.");
  std::vector<Command> commands = {add_run(app, &tail), add_explain(app), add_report(app), add_check(app),
                                   add_doctor(app),     add_libpath(app), add_demo(app), add_ctl(app),
                                   add_collect(app)};
  std::string accepted;
  std::vector<const char*> names;
  for (const Command& c : commands) {
    accepted += (accepted.empty() ? "" : ", ") + c.app->get_name();
    names.push_back(c.app->get_name().c_str());
  }
  if (argc == 1) {
    std::fprintf(stderr, "sockdiag: missing COMMAND; accepted: %s; see 'sockdiag --help'\n", accepted.c_str());
    return kUsageStatus;
  }
  const char* sub_name = argv[1];
  bool known = false;
  for (const Command& c : commands) known = known || c.app->get_name() == sub_name;
  if (!known && sub_name[0] != '-') {
    const char* near = sd::nearest_word(sub_name, names.data(), names.size());
    std::fprintf(stderr, "sockdiag: unknown command '%s'%s%s%s; accepted: %s\n", one_line(sub_name).c_str(),
                 near ? " (did you mean " : "", near ? near : "", near ? "?)" : "", accepted.c_str());
    return kUsageStatus;
  }
  try {
    app.parse(parsed_argc, argv);
    for (const Command& c : commands)
      if (c.app->parsed()) return c.action();
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sockdiag%s%s: %s; see 'sockdiag%s%s --help'\n", known ? " " : "", known ? sub_name : "",
                 one_line(describe_parse_error(e)).c_str(), known ? " " : "", known ? sub_name : "");
    return kUsageStatus;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sockdiag %s: %s\n", sub_name, one_line(e.what()).c_str());
    return kUsageStatus;
  }
}
