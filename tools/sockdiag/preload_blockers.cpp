// Reasons in a program's file that keep LD_PRELOAD out (see preload_blockers.h).
#include "preload_blockers.h"

#include <elf.h>

#include "locate.h"

namespace sdcli {

namespace {

// Linux follows at most this many interpreters (#! lines) in a row.
constexpr int kMaxInterpreterDepth = 4;

}  // namespace

std::vector<std::string> preload_blockers(const ElfFacts& f) {
  std::vector<std::string> out;
  if (!f.go_evidence.empty()) {
    out.push_back("it is a Go program (" + f.go_evidence +
                  "): Go makes its socket calls as raw system calls, not through libc, so no "
                  "LD_PRELOAD library sees them (at most its DNS lookups, with the cgo resolver)");
  }
  if (!f.has_interp) {
    if (f.type == ET_DYN && !f.pie)
      out.push_back("it is a shared library, not a program: run the program that loads it");
    else
      out.push_back(
          "it is statically linked: no dynamic loader runs, so LD_PRELOAD is never read "
          "and libc's socket functions are built into it");
  }
  return out;
}

bool needs_strace(const ElfFacts& f) { return f.native_order && (!f.go_evidence.empty() || !f.has_interp); }

std::string interpreter_of(const std::string& shebang, std::string* shown) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < shebang.size()) {
    std::size_t start = shebang.find_first_not_of(" \t", pos);
    if (start == std::string::npos) break;
    std::size_t end = shebang.find_first_of(" \t", start);
    words.push_back(shebang.substr(start, end == std::string::npos ? std::string::npos : end - start));
    pos = end == std::string::npos ? shebang.size() : end;
  }
  if (words.empty()) return "";
  *shown = words[0];
  if (words[0].size() >= 4 && words[0].compare(words[0].size() - 4, 4, "/env") == 0) {
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i][0] == '-' || words[i].find('=') != std::string::npos) continue;
      *shown = words[i] + " (found through env in PATH)";
      return find_in_path(words[i]);
    }
  }
  return words[0];
}

bool deciding_program(const std::string& cmd, std::string* path, ElfFacts* facts) {
  std::string p = find_in_path(cmd);
  for (int depth = 0; !p.empty() && depth < kMaxInterpreterDepth; ++depth) {
    FileFacts f;
    std::string error;
    if (!inspect_file(p, &f, &error)) return false;
    if (f.kind == FileKind::elf) {
      *path = p;
      *facts = f.elf;
      return true;
    }
    std::string shown;
    p = f.kind == FileKind::script ? interpreter_of(f.shebang, &shown) : "/bin/sh";
  }
  return false;
}

std::string preload_blockers_of(const std::string& cmd) {
  std::string path;
  ElfFacts facts;
  if (!deciding_program(cmd, &path, &facts)) return "";
  std::string out;
  for (const std::string& b : preload_blockers(facts)) out += (out.empty() ? "" : "; ") + b;
  if (!out.empty() && path != find_in_path(cmd)) out = "its interpreter " + path + ": " + out;
  return out;
}

}  // namespace sdcli
