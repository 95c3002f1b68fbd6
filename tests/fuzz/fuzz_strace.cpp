// libFuzzer target for the strace engine's reader (tools/sockdiag/trace_reader.h):
// strace's output is text from another program, cut anywhere by a FIFO, and a
// traced program chooses much of it (paths, addresses, its own writes). The
// input is that output. What must hold:
// - no crash, leak or sanitizer report, at any split of the bytes;
// - every record written is one complete line ending in '\n' (text), or one
//   JSON object on one line (json), and names a process the input named;
// - lines not understood are never more than the lines read;
// - the summary is written and is one JSON object.
// The first byte chooses the format and the split; the rest is the output.
// Build and run: tools/fuzz.sh (or tests/fuzz/CMakeLists.txt, SOCKDIAG_FUZZ=ON).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trace_reader.h"
#include "tree_summary.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_strace: %s: ", what);
  for (unsigned char c : detail.substr(0, 400)) std::fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  sd::Config config;
  config.format = mode & 1 ? sd::Format::json : sd::Format::text;
  config.level = static_cast<sd::Level>(1 + (mode >> 1) % 4);
  sdcli::TreeSummary summary;
  sdcli::TraceOutput out;
  out.write = [&config, input](long pid, std::string_view line) {
    if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) broken("not one line", line);
    if (config.format == sd::Format::json) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) broken("not a JSON object", line);
    }
    if (input.find(std::to_string(pid)) == std::string_view::npos) broken("a pid the input never named", line);
  };
  out.summary = &summary;
  sdcli::TraceReader reader(config, out);
  std::size_t step = 1 + (mode >> 3);
  for (std::size_t i = 0; i < input.size(); i += step)
    reader.feed(input.data() + i, std::min(step, input.size() - i));
  reader.finish();
  if (reader.not_understood() > reader.lines()) broken("more lines not understood than read", input);
  char* text = nullptr;
  std::size_t text_size = 0;
  FILE* f = open_memstream(&text, &text_size);
  summary.print_json(f);
  std::fclose(f);
  std::string_view s(text, text_size);
  bool ok = !nlohmann::json::parse(s, nullptr, false).is_discarded();
  std::string copy(s);
  std::free(text);
  if (!ok) broken("the summary is not JSON", copy);
  return 0;
}
