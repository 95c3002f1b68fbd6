// What in a program's own file stops any LD_PRELOAD library from seeing its
// socket calls: the part of the doctor's verdict that `sockdiag run` also
// says before it runs such a program anyway.
#pragma once
#include <string>
#include <vector>

#include "elf_inspect.h"

namespace sdcli {

// One sentence per reason (Go, statically linked, a shared library); empty
// when the file itself does not stop the library.
std::vector<std::string> preload_blockers(const ElfFacts&);

// The blockers of the program `cmd` names (looked up in PATH), joined by
// "; ": "" for a program that can be observed, or one that cannot be read
// (running it then says why).
std::string preload_blockers_of(const std::string& cmd);

}  // namespace sdcli
