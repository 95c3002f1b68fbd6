// `sockdiag doctor CMD`: can the library observe CMD at all, and if not, why
// not and what to use instead.
#include <elf.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <climits>
#include <cstring>

#include "commands.h"
#include "elf_inspect.h"
#include "locate.h"
#include "preload_blockers.h"
#include "strace_engine.h"
#include "text.h"
#include "usage.h"

namespace sdcli {

namespace {

// Linux follows at most this many interpreters (#! lines) in a row.
constexpr int kMaxInterpreterDepth = 4;

// What strace shows of any program, with the trace set that holds Go's
// failures too.
std::string strace_advice() {
  return std::string("strace sees system calls whatever a program is made of: strace -f -y -e trace=") +
         kStraceTraceSet +
         " CMD (trace=%network alone misses most failures: Go's refused connect is a getsockopt(SO_ERROR) that "
         "succeeds, the error in its value, and socket I/O is read and write)";
}

struct Findings {
  std::vector<std::string> blockers;  // the library cannot observe the program
  std::vector<std::string> limits;    // it can, but misses part of what happens
  std::vector<std::string> notes;     // worth knowing, no effect on observing it
  bool strace_engine = false;         // a static or Go program decides: `sockdiag run` traces it
};

std::string describe_elf(const ElfFacts& f) {
  std::string out = "ELF " + std::to_string(f.bits) + "-bit ";
  if (!f.native_order) return out + (f.little_endian ? "little" : "big") + "-endian file";
  out += machine_name(f.machine);
  out += f.type == ET_EXEC || f.pie ? " executable" : f.type == ET_DYN ? " shared object" : " file";
  if (f.has_interp)
    out += ", dynamically linked, loader " + f.interp;
  else
    out += ", statically linked";
  return out;
}

// Secure-execution mode (AT_SECURE): the loader ignores LD_PRELOAD entries
// with a '/' and loads only setuid libraries from the system directories.
void check_privileges(const std::string& path, const struct stat& st, Findings* out) {
  bool caps = getxattr(path.c_str(), "security.capability", nullptr, 0) > 0;
  bool privileged = (st.st_mode & (S_ISUID | S_ISGID)) || caps;
  struct statvfs vfs {};
  if (privileged && statvfs(path.c_str(), &vfs) == 0 && (vfs.f_flag & ST_NOSUID)) {
    out->notes.push_back(
        "its setuid/setgid bits and file capabilities are ignored: its file system is mounted "
        "nosuid");
    return;
  }
  const char* secure = "secure-execution mode, where the loader ignores LD_PRELOAD";
  if (st.st_mode & S_ISUID) {
    std::string what = "it is setuid (owner uid " + std::to_string(st.st_uid) + ")";
    if (st.st_uid != getuid())
      out->blockers.push_back(what + ": it runs in " + secure + "; run it as its owner to observe it");
    else
      out->limits.push_back(what + ": observed when its owner runs it, as now; run by anyone else it is in " + secure);
  }
  if ((st.st_mode & S_ISGID) && st.st_gid != getgid())
    out->blockers.push_back("it is setgid (group gid " + std::to_string(st.st_gid) + "): it runs in " + secure);
  if (caps) {
    std::string what = "it has file capabilities (getcap shows them)";
    if (getuid() != 0)
      out->blockers.push_back(what + ": it runs in " + secure + " unless root starts it");
    else
      out->limits.push_back(what + ": observed when root runs it, as now; run by others it is in " + secure);
  }
}

void check_elf(const ElfFacts& f, const ElfFacts* library, Findings* out) {
  if (!f.native_order) {
    out->blockers.push_back("it is built for the other byte order and cannot run on this machine");
    return;
  }
  if (library && (f.bits != library->bits || f.machine != library->machine)) {
    out->blockers.push_back("it is a " + std::to_string(f.bits) + "-bit " + machine_name(f.machine) +
                            " program and the library is " + std::to_string(library->bits) + "-bit " +
                            machine_name(library->machine) +
                            ": the loader skips a library of another kind ('wrong ELF class'), so the program "
                            "runs unobserved");
  }
  for (const std::string& b : preload_blockers(f)) out->blockers.push_back(b);
  if (!f.has_interp) return;
  if (library && !library->interp.empty() && f.interp != library->interp &&
      f.interp.find("/ld-linux") == std::string::npos && f.interp.find("/ld64.so") == std::string::npos)
    out->blockers.push_back("its loader " + f.interp + " is not glibc's (" + library->interp +
                            "); the library is built for glibc");
  bool libc = false;
  for (const std::string& n : f.needed) {
    if (n.rfind("libc.so", 0) == 0) libc = true;
    if (n.rfind("liburing.so", 0) == 0)
      out->limits.push_back("it links " + n + ": I/O submitted through io_uring bypasses libc and is not seen");
  }
  if (!libc && f.go_evidence.empty())
    out->limits.push_back(
        "it does not link libc.so directly: only the socket calls its libraries make through "
        "libc are seen");
}

// Examines `path`; prints what it finds. Scripts recurse into their interpreter.
void examine(const std::string& path, const ElfFacts* library, int depth, Findings* out) {
  const std::string indent(static_cast<std::size_t>(2 * depth + 2), ' ');
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    out->blockers.push_back(path + ": " + std::strerror(errno));
    return;
  }
  if (S_ISREG(st.st_mode) && access(path.c_str(), X_OK) != 0)
    out->blockers.push_back(path + " is not executable by you (sockdiag run would exit with 126)");
  FileFacts facts;
  std::string error;
  if (!inspect_file(path, &facts, &error)) {
    out->blockers.push_back(path + ": " + error);
    return;
  }
  switch (facts.kind) {
    case FileKind::script: {
      std::string shown;
      std::string interp = interpreter_of(facts.shebang, &shown);
      std::printf("%sa script, run by: #!%s\n", indent.c_str(), one_line(facts.shebang).c_str());
      if (interp.empty()) {
        out->blockers.push_back(path + ": its #! line names no interpreter that can be found");
        return;
      }
      if (depth + 1 >= kMaxInterpreterDepth) {
        out->blockers.push_back("too many interpreters in a row (Linux follows " +
                                std::to_string(kMaxInterpreterDepth) + ")");
        return;
      }
      std::printf("%sthe interpreter decides: %s\n", indent.c_str(), one_line(interp).c_str());
      examine(interp, library, depth + 1, out);
      return;
    }
    case FileKind::other:
      std::printf("%snot an ELF file and no #! line: a shell (and sockdiag run) hands it to /bin/sh\n", indent.c_str());
      if (depth + 1 < kMaxInterpreterDepth) examine("/bin/sh", library, depth + 1, out);
      return;
    case FileKind::elf:
      std::printf("%s%s\n", indent.c_str(), one_line(describe_elf(facts.elf)).c_str());
      if (!facts.elf.needed.empty()) {
        std::string needed;
        for (const std::string& n : facts.elf.needed) needed += (needed.empty() ? "" : ", ") + n;
        std::printf("%sneeds %s\n", indent.c_str(), one_line(needed).c_str());
      }
      check_privileges(path, st, out);
      check_elf(facts.elf, library, out);
      out->strace_engine = needs_strace(facts.elf);
      return;
  }
}

int doctor(const std::string& cmd) {
  std::string path = find_in_path(cmd);
  if (path.empty()) throw UsageError(cmd + ": command not found in PATH");
  std::printf("sockdiag doctor: %s\n", one_line(path).c_str());

  const std::string shown = one_line(cmd);
  Findings findings;
  std::vector<std::string> tried;
  std::string lib = find_library(&tried);
  FileFacts lib_facts;
  std::string error;
  bool lib_ok = !lib.empty() && inspect_file(lib, &lib_facts, &error) && lib_facts.kind == FileKind::elf;
  examine(path, lib_ok ? &lib_facts.elf : nullptr, 0, &findings);
  if (lib.empty()) {
    std::string where;
    for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
    findings.blockers.push_back("the library " SOCKDIAG_LIBRARY_FILE
                                " is not installed next to this command "
                                "(looked for " +
                                where + ")");
  } else {
    std::printf("  library: %s\n", one_line(lib).c_str());
  }

  for (const std::string& n : findings.notes) std::printf("note: %s\n", one_line(n).c_str());
  for (const std::string& l : findings.limits) std::printf("limit: %s\n", one_line(l).c_str());
  if (!findings.blockers.empty()) {
    for (const std::string& b : findings.blockers) std::printf("cannot: %s\n", one_line(b).c_str());
    if (findings.strace_engine)
      std::printf(
          "verdict: the library cannot observe %s; its system calls can be: sockdiag run --engine strace -- %s "
          "(what sockdiag run does by itself for such a program)\n",
          shown.c_str(), shown.c_str());
    else
      std::printf("verdict: sockdiag cannot observe %s. %s\n", shown.c_str(), one_line(strace_advice()).c_str());
    return 1;
  }
  std::printf("verdict: sockdiag can observe %s%s: sockdiag run -- %s\n", shown.c_str(),
              findings.limits.empty() ? "" : " (with the limits above)", shown.c_str());
  return 0;
}

}  // namespace

Command add_doctor(CLI::App& root) {
  auto cmd = std::make_shared<std::string>();
  CLI::App* sub = root.add_subcommand("doctor",
                                      "Tell whether CMD can be observed through LD_PRELOAD at all, "
                                      "and why not: static, setuid/setcap, Go, another machine; "
                                      "scripts are judged by their interpreter.");
  set_usage(sub, "sockdiag doctor CMD [ARGS...]");
  sub->add_option("cmd", *cmd, "The program, as you would run it (looked up in PATH); ARGS are ignored.")
      ->type_name("CMD");
  sub->prefix_command();
  sub->footer(
      "Where the library cannot help, strace can: it traces system calls, not library calls. For a static "
      "or Go program (or a script run by one), sockdiag run takes strace by itself (--engine auto).\n\n"
      "Exit status: 0 when sockdiag can observe CMD; 1 when it cannot; 2 for bad input (CMD not found).");
  auto action = [sub, cmd]() {
    if (cmd->empty()) {
      reject_extras(*sub, sub->remaining());
      throw UsageError("missing CMD; usage: sockdiag doctor CMD");
    }
    return doctor(*cmd);
  };
  return {sub, action};
}

}  // namespace sdcli
