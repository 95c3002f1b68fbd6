// What `sockdiag doctor` and `sockdiag run` need to know about an executable
// file, read from its ELF headers (program headers, dynamic section, section
// names, notes) with libelf, without running or loading it. libelf checks
// every offset against the file's size: a damaged or hostile file gives an
// error, never a crash.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sdcli {

struct ElfFacts {
  int bits = 0;  // 32 or 64
  bool little_endian = true;
  bool native_order = true;  // false: nothing past the identification was read
  uint16_t type = 0;         // ET_EXEC, ET_DYN...
  uint16_t machine = 0;      // EM_X86_64...
  bool has_interp = false;   // PT_INTERP: started by a dynamic loader
  std::string interp;
  bool has_dynamic = false;         // PT_DYNAMIC
  bool pie = false;                 // DF_1_PIE: an executable, even without PT_INTERP (static-pie)
  std::vector<std::string> needed;  // DT_NEEDED
  std::string go_evidence;          // why this looks like a Go program; "" if it does not
};

enum class FileKind { elf, script, other };

struct FileFacts {
  FileKind kind = FileKind::other;
  std::string shebang;  // script: the "#!" line without "#!", trimmed
  ElfFacts elf;         // kind == elf
};

// Reads `path`. false with `error` set when it cannot be read, or is an ELF
// file whose headers do not hold together.
bool inspect_file(const std::string& path, FileFacts* out, std::string* error);

// "x86-64", "i386", "AArch64"... or "machine N".
std::string machine_name(uint16_t machine);

}  // namespace sdcli
