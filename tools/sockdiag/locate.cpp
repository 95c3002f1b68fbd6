#include "locate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace sdcli {

namespace {

bool is_regular(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The first existing candidate, canonical (ld.so and the user see one name).
std::string first_existing(const std::vector<std::string>& candidates, std::vector<std::string>* tried) {
  for (const std::string& c : candidates) {
    if (is_regular(c)) {
      char real[PATH_MAX];
      return realpath(c.c_str(), real) ? std::string(real) : c;
    }
    if (tried) tried->push_back(c);
  }
  return "";
}

}  // namespace

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string exe(buf, static_cast<std::size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

std::string find_library(std::vector<std::string>* tried) {
  const std::string dir = self_dir();
  return first_existing({dir + "/" SOCKDIAG_BIN_TO_LIBDIR "/" SOCKDIAG_LIBRARY_FILE,
                         dir + "/" SOCKDIAG_BUILD_EXE_TO_LIBDIR "/" SOCKDIAG_LIBRARY_FILE},
                        tried);
}

std::string find_demo(std::vector<std::string>* tried) {
  const std::string dir = self_dir();
  return first_existing({dir + "/" SOCKDIAG_BIN_TO_LIBEXECDIR "/sockdiag/sockdiag-demo", dir + "/sockdiag-demo"},
                        tried);
}

std::string find_in_path(const std::string& cmd) {
  if (cmd.empty()) return "";
  if (cmd.find('/') != std::string::npos) return cmd;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t pos = 0;
  while (pos <= dirs.size()) {
    std::size_t colon = dirs.find(':', pos);
    std::string d = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    std::string candidate = (d.empty() ? "." : d) + "/" + cmd;
    if (is_regular(candidate)) return candidate;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return "";
}

}  // namespace sdcli
