// libFuzzer target for the parsing of the SOCKDIAG_* variables
// (sd::parse_config, shim/core/config.cpp). The input is an environment block as
// in /proc/PID/environ: NAME=VALUE entries separated by NUL bytes (so a
// value may hold any other byte, newlines included); the first entry of a
// name wins, as with getenv. Every name goes in the names list, so the
// misspelt-variable check sees them all. Refusals must be one non-empty line
// that starts with "sockdiag: ".
// Build and run: tools/fuzz.sh (or tests/fuzz/CMakeLists.txt, SOCKDIAG_FUZZ=ON).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"
#include "rules.h"

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_env: %s: %s\n", what, detail.c_str());
  std::abort();
}

struct Env {
  std::vector<std::pair<std::string, std::string>> vars;
};

const char* lookup(const char* name, void* ctx) {
  std::string_view wanted(name);
  // SOCKDIAG_CONFIG names a file to read: a mutated path could name
  // /dev/zero or a FIFO and hang the fuzzer. The file's content has a
  // target of its own (fuzz_config); here the variable is only a name.
  if (wanted == "SOCKDIAG_CONFIG") return nullptr;
  for (const auto& [n, v] : static_cast<Env*>(ctx)->vars)
    if (n == wanted) return v.c_str();
  return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view block(reinterpret_cast<const char*>(data), size);
  Env env;
  while (!block.empty()) {
    std::string_view entry = block.substr(0, block.find('\0'));
    block.remove_prefix(std::min(block.size(), entry.size() + 1));
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;  // not a variable
    env.vars.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::vector<const char*> names;
  for (const auto& var : env.vars) names.push_back(var.first.c_str());
  names.push_back(nullptr);

  sd::Config cfg;
  std::string error;
  if (!sd::parse_config(lookup, &env, names.data(), &cfg, &error)) {
    if (error.rfind("sockdiag: ", 0) != 0) broken("error without the 'sockdiag: ' prefix", error);
    if (error.find('\n') != std::string::npos) broken("error of several lines", error);
    return 0;
  }
  // The library keeps its rules for the life of the process; here every
  // input's rules are freed, so that a leak LeakSanitizer finds is real.
  sd::free_rules(const_cast<sd::RuleSet*>(cfg.rules));
  return 0;
}
