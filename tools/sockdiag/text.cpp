#include "text.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <climits>

#include "escape.h"

namespace sdcli {

std::string printable(std::string_view s) { return sd::text_escaped(s); }

std::string one_line(std::string_view message) { return sd::inert_escaped(message); }

std::string wrap(std::string_view text, int indent, int width) {
  std::string out;
  std::string line;
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = text.find_first_not_of(' ', pos);
    if (start == std::string_view::npos) break;
    std::size_t end = text.find(' ', start);
    std::string_view word = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    pos = end == std::string_view::npos ? text.size() : end;
    if (!line.empty() && static_cast<int>(pad.size() + line.size() + 1 + word.size()) > width) {
      out += pad + line + '\n';
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out += pad + line + '\n';
  return out;
}

std::string absolute_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return path;
  std::string dir = cwd;
  std::string rest = path;
  while (rest.rfind("./", 0) == 0) rest.erase(0, 2);
  return dir == "/" ? "/" + rest : dir + "/" + rest;
}

std::string signal_name(int sig) {
  if (const char* abbrev = sigabbrev_np(sig)) return std::string("SIG") + abbrev;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  return "signal " + std::to_string(sig);
}

}  // namespace sdcli
