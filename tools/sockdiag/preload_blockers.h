// What in a program's own file stops any LD_PRELOAD library from seeing its
// socket calls: the part of the doctor's verdict that `sockdiag run` also
// uses to choose its engine.
#pragma once
#include <string>
#include <vector>

#include "elf_inspect.h"

namespace sdcli {

// One sentence per reason (Go, statically linked, a shared library); empty
// when the file itself does not stop the library.
std::vector<std::string> preload_blockers(const ElfFacts&);

// Only system calls show what the program does: it is a Go program or
// statically linked (no PT_INTERP), so `sockdiag run` takes the strace engine.
bool needs_strace(const ElfFacts&);

// The interpreter of "#!/usr/bin/env -S python3 -u": /usr/bin/python3 (env's
// NAME looked up in PATH), "" when there is none; `shown` says it for people.
std::string interpreter_of(const std::string& shebang, std::string* shown);

// The ELF file that decides how `cmd` (looked up in PATH) runs: cmd itself,
// or for a script its interpreter, followed through #! lines as Linux does
// (a file with neither is run by /bin/sh). false when none can be read.
bool deciding_program(const std::string& cmd, std::string* path, ElfFacts* facts);

// The blockers of the program that decides for `cmd`, joined by "; ", the
// interpreter named for a script: "" for a program that can be observed, or
// one that cannot be read (running it then says why).
std::string preload_blockers_of(const std::string& cmd);

}  // namespace sdcli
