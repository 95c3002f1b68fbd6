// libFuzzer target for the reader of replay plans (SOCKDIAG_REPLAY,
// shim/core/replay_plan.cpp, json_line.cpp): the input is a log's text.
// Beyond "no crash, no leak, no undefined behaviour" it checks what the
// reader promises: a refusal is one non-empty line naming the source; a
// plan accepted has a fault, each at a call its rule can name, with an
// index from 1 and a rule in the plan's set.
// Build and run: tools/fuzz.sh (or tests/fuzz/CMakeLists.txt, SOCKDIAG_FUZZ=ON).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "replay_plan.h"
#include "rules.h"

namespace {
[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_replay: %s: %s\n", what, detail.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  sd::ReplayPlan plan;
  std::string error;
  if (!sd::parse_replay(text, "fuzz.json", &plan, &error)) {
    if (error.empty() || error.find('\n') != std::string::npos || error.rfind("fuzz.json", 0) != 0)
      broken("a refusal is not one line naming the source", error);
    return 0;
  }
  if (plan.faults.empty() || !plan.set) broken("a plan accepted with no fault", text);
  for (const sd::ReplayFault& f : plan.faults)
    if (f.n == 0 || f.rule >= plan.set->count || f.call >= sd::CallId::count) broken("a fault out of bounds", text);
  sd::free_rules(plan.set);
  return 0;
}
