// Reasons in a program's file that keep LD_PRELOAD out (see preload_blockers.h).
#include "preload_blockers.h"

#include <elf.h>

#include "locate.h"

namespace sdcli {

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

std::string preload_blockers_of(const std::string& cmd) {
  std::string path = find_in_path(cmd);
  FileFacts facts;
  std::string error;
  if (path.empty() || !inspect_file(path, &facts, &error) || facts.kind != FileKind::elf) return "";
  std::string out;
  for (const std::string& b : preload_blockers(facts.elf)) out += (out.empty() ? "" : "; ") + b;
  return out;
}

}  // namespace sdcli
