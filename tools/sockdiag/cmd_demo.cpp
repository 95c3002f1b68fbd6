// `sockdiag demo`: the demonstration program run through `sockdiag run`, on
// loopback only: a refused connection, a reset, an EPIPE and an injected
// fault, each explained by a record, then the summary.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "locate.h"
#include "usage.h"

namespace sdcli {

namespace {

// The demo's "database" listens on 127.0.0.2; its first two connection
// attempts are refused by this rule although the server is up.
constexpr const char* kDemoRule = "connect:error=ECONNREFUSED:nth=1..2:peer=127.0.0.2";

}  // namespace

Command add_demo(CLI::App& root) {
  CLI::App* sub = root.add_subcommand("demo",
                                      "Show what sockdiag does, on loopback: a refused connection, a "
                                      "reset, an EPIPE and an injected fault, each explained, then the "
                                      "summary.");
  set_usage(sub, "sockdiag demo");
  sub->allow_extras();
  sub->footer(std::string("Runs: sockdiag run --summary --inject '") + kDemoRule + "' -- sockdiag-demo");
  auto action = [sub]() {
    reject_extras(*sub, sub->remaining());
    std::vector<std::string> tried;
    std::string demo = find_demo(&tried);
    if (demo.empty()) {
      std::string where;
      for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
      throw UsageError("cannot find the demonstration program sockdiag-demo; looked for " + where);
    }
    RunOptions o;
    o.summary = true;
    o.settings.inject = {kDemoRule};
    o.cmd = {demo};
    std::fprintf(stderr, "$ sockdiag run --summary --inject '%s' -- %s\n", kDemoRule, demo.c_str());
    return run_command(o);
  };
  return {sub, action};
}

}  // namespace sdcli
