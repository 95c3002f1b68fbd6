// libFuzzer target for the config-file parser (SOCKDIAG_CONFIG, shim/core/config.cpp).
// The input is the file's content, read by sd::parse_config through a memfd
// (no file left behind, nothing on disk). Beyond "no crash, no leak, no
// undefined behaviour" it checks what the parser promises about refusals:
// one non-empty line that starts with "sockdiag: ".
// Build and run: tools/fuzz.sh (or tests/fuzz/CMakeLists.txt, SOCKDIAG_FUZZ=ON).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config.h"
#include "rules.h"

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", what, detail.c_str());
  std::abort();
}

// The file: one memfd for the whole run, rewritten for each input; the
// parser opens it by name like any other file.
struct File {
  int fd = memfd_create("sockdiag-fuzz-config", MFD_CLOEXEC);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  File() {
    if (fd < 0) broken("memfd_create failed", "");
  }
  void set(const uint8_t* data, size_t size) {
    if (ftruncate(fd, 0) != 0) broken("ftruncate failed", path);
    for (size_t done = 0; done < size;) {
      ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) broken("pwrite failed", path);
      done += static_cast<size_t>(n);
    }
  }
};

const char* only_config(const char* name, void* ctx) {
  return std::string_view(name) == "SOCKDIAG_CONFIG" ? static_cast<File*>(ctx)->path.c_str() : nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static File file;
  file.set(data, size);
  static const char* const kNames[] = {"SOCKDIAG_CONFIG", nullptr};
  sd::Config cfg;
  std::string error;
  if (!sd::parse_config(only_config, &file, kNames, &cfg, &error)) {
    if (error.rfind("sockdiag: ", 0) != 0) broken("error without the 'sockdiag: ' prefix", error);
    if (error.find('\n') != std::string::npos) broken("error of several lines", error);
    return 0;
  }
  // The library keeps its rules for the life of the process; here every
  // input's rules are freed, so that a leak LeakSanitizer finds is real.
  sd::free_rules(const_cast<sd::RuleSet*>(cfg.rules));
  return 0;
}
