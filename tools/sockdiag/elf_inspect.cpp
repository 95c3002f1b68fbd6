#include "elf_inspect.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sdcli {

namespace {

// NT_GO_BUILDID: the Go linker's build-id note, owner "Go".
constexpr uint32_t kGoBuildIdNote = 4;
// The start of the Go build information blob (runtime/debug.BuildInfo),
// present since Go 1.13 even when sections are stripped.
constexpr char kGoBuildInfoMagic[] = "\xff Go buildinf:";

// The file, mapped read-only.
class Mapping {
 public:
  explicit Mapping(int fd, std::size_t size) : size_(size) {
    void* p = size ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    data_ = p == MAP_FAILED ? nullptr : static_cast<const unsigned char*>(p);
  }
  ~Mapping() {
    if (data_) munmap(const_cast<unsigned char*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool holds(uint64_t off, uint64_t len) const { return off <= size_ && len <= size_ - off; }

 private:
  const unsigned char* data_;
  std::size_t size_;
};

template <class Ehdr, class Phdr, class Shdr, class Dyn, class Nhdr>
bool parse(const Mapping& m, ElfFacts* f, std::string* error) {
  if (!m.holds(0, sizeof(Ehdr))) return (*error = "the ELF header is cut short", false);
  Ehdr eh;
  memcpy(&eh, m.data(), sizeof eh);
  f->type = eh.e_type;
  f->machine = eh.e_machine;
  if (eh.e_phnum && (eh.e_phentsize != sizeof(Phdr) || !m.holds(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Phdr))))
    return (*error = "its program headers lie outside the file", false);
  std::vector<Phdr> ph(eh.e_phnum);
  if (eh.e_phnum) memcpy(ph.data(), m.data() + eh.e_phoff, eh.e_phnum * sizeof(Phdr));

  // Virtual address -> file offset, through the PT_LOAD segments.
  auto file_offset = [&](uint64_t vaddr, uint64_t* off) {
    for (const Phdr& p : ph) {
      if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr - p.p_vaddr < p.p_filesz) {
        *off = p.p_offset + (vaddr - p.p_vaddr);
        return true;
      }
    }
    return false;
  };
  auto cstring_at = [&](uint64_t off) -> std::string {
    if (off >= m.size()) return "";
    const char* s = reinterpret_cast<const char*>(m.data() + off);
    return std::string(s, strnlen(s, m.size() - off));
  };
  auto scan_notes = [&](uint64_t off, uint64_t size) {
    if (!m.holds(off, size)) return;
    uint64_t pos = 0;
    while (pos + sizeof(Nhdr) <= size) {
      Nhdr n;
      memcpy(&n, m.data() + off + pos, sizeof n);
      uint64_t name_at = pos + sizeof n;
      uint64_t desc_at = name_at + ((uint64_t{n.n_namesz} + 3) & ~uint64_t{3});
      uint64_t next = desc_at + ((uint64_t{n.n_descsz} + 3) & ~uint64_t{3});
      if (next > size) return;
      if (n.n_type == kGoBuildIdNote && n.n_namesz == 3 && memcmp(m.data() + off + name_at, "Go", 3) == 0) {
        f->go_evidence = "a Go build-ID note";
        return;
      }
      pos = next;
    }
  };

  uint64_t dyn_off = 0, dyn_size = 0;
  for (const Phdr& p : ph) {
    if (p.p_type == PT_INTERP) {
      if (!m.holds(p.p_offset, p.p_filesz)) return (*error = "its PT_INTERP lies outside the file", false);
      f->has_interp = true;
      f->interp = std::string(reinterpret_cast<const char*>(m.data() + p.p_offset),
                              strnlen(reinterpret_cast<const char*>(m.data() + p.p_offset), p.p_filesz));
    } else if (p.p_type == PT_DYNAMIC) {
      f->has_dynamic = true;
      dyn_off = p.p_offset;
      dyn_size = p.p_filesz;
    } else if (p.p_type == PT_NOTE && f->go_evidence.empty()) {
      scan_notes(p.p_offset, p.p_filesz);
    }
  }

  if (f->has_dynamic) {
    if (!m.holds(dyn_off, dyn_size)) return (*error = "its dynamic section lies outside the file", false);
    std::vector<uint64_t> needed_offsets;
    uint64_t strtab = 0;
    bool have_strtab = false;
    for (uint64_t pos = 0; pos + sizeof(Dyn) <= dyn_size; pos += sizeof(Dyn)) {
      Dyn d;
      memcpy(&d, m.data() + dyn_off + pos, sizeof d);
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_NEEDED) needed_offsets.push_back(d.d_un.d_val);
      if (d.d_tag == DT_STRTAB) {
        have_strtab = true;
        strtab = d.d_un.d_ptr;
      }
      if (d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_PIE)) f->pie = true;
    }
    uint64_t strtab_off = 0;
    if (!needed_offsets.empty() && have_strtab && file_offset(strtab, &strtab_off))
      for (uint64_t n : needed_offsets) f->needed.push_back(cstring_at(strtab_off + n));
  }

  // Section names, when the section headers are there (strip keeps them).
  if (f->go_evidence.empty() && eh.e_shnum && eh.e_shentsize == sizeof(Shdr) &&
      m.holds(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Shdr)) && eh.e_shstrndx < eh.e_shnum) {
    std::vector<Shdr> sh(eh.e_shnum);
    memcpy(sh.data(), m.data() + eh.e_shoff, eh.e_shnum * sizeof(Shdr));
    const Shdr& names = sh[eh.e_shstrndx];
    for (const Shdr& s : sh) {
      if (!m.holds(names.sh_offset, names.sh_size) || s.sh_name >= names.sh_size) continue;
      std::string name = cstring_at(names.sh_offset + s.sh_name);
      if (name == ".go.buildinfo" || name == ".note.go.buildid" || name == ".gopclntab") {
        f->go_evidence = "a " + name + " section";
        break;
      }
      if (name == ".strtab" && m.holds(s.sh_offset, s.sh_size) &&
          memmem(m.data() + s.sh_offset, s.sh_size, "runtime.main", sizeof("runtime.main")) != nullptr) {
        f->go_evidence = "the symbol runtime.main";
        break;
      }
    }
  }
  if (f->go_evidence.empty() && memmem(m.data(), m.size(), kGoBuildInfoMagic, sizeof kGoBuildInfoMagic - 1) != nullptr)
    f->go_evidence = "Go build information in the file";
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  std::size_t start = s.find_first_not_of(" \t");
  return start == std::string::npos ? "" : s.substr(start);
}

}  // namespace

bool inspect_file(const std::string& path, FileFacts* out, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = strerror(errno);
    return false;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file";
    close(fd);
    return false;
  }
  Mapping m(fd, static_cast<std::size_t>(st.st_size));
  close(fd);
  if (st.st_size > 0 && !m.data()) {
    *error = std::string("cannot map it: ") + strerror(errno);
    return false;
  }
  const unsigned char* d = m.data();
  if (m.holds(0, 2) && d[0] == '#' && d[1] == '!') {
    out->kind = FileKind::script;
    const unsigned char* nl = static_cast<const unsigned char*>(memchr(d, '\n', m.size()));
    std::size_t len = nl ? static_cast<std::size_t>(nl - d) : m.size();
    out->shebang = trim(std::string(reinterpret_cast<const char*>(d) + 2, len - 2));
    return true;
  }
  if (!m.holds(0, EI_NIDENT) || memcmp(d, ELFMAG, SELFMAG) != 0) {
    out->kind = FileKind::other;
    return true;
  }
  out->kind = FileKind::elf;
  ElfFacts& f = out->elf;
  f.little_endian = d[EI_DATA] == ELFDATA2LSB;
  // Only this machine's byte order is parsed: a file of the other order
  // cannot run here anyway, and its header says enough.
  bool native = f.little_endian == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  f.native_order = native;
  if (d[EI_CLASS] == ELFCLASS64) {
    f.bits = 64;
    if (!native) return true;
    return parse<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Dyn, Elf64_Nhdr>(m, &f, error);
  }
  if (d[EI_CLASS] == ELFCLASS32) {
    f.bits = 32;
    if (!native) return true;
    return parse<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Dyn, Elf32_Nhdr>(m, &f, error);
  }
  *error = "an ELF file of unknown class " + std::to_string(d[EI_CLASS]);
  return false;
}

std::string machine_name(uint16_t machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_386:
      return "i386";
    case EM_AARCH64:
      return "AArch64";
    case EM_ARM:
      return "ARM";
    case EM_RISCV:
      return "RISC-V";
    case EM_PPC64:
      return "PowerPC64";
    case EM_S390:
      return "S/390";
    case EM_MIPS:
      return "MIPS";
    default:
      return "machine " + std::to_string(machine);
  }
}

}  // namespace sdcli
