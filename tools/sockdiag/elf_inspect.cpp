#include "elf_inspect.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
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

// The file, mapped copy-on-write: libelf may convert data in place in the
// image it is given, and the file itself must never change.
class Mapping {
 public:
  explicit Mapping(int fd, std::size_t size) : size_(size) {
    void* p = size ? mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    data_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~Mapping() {
    if (data_) munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  char* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool holds(uint64_t off, uint64_t len) const { return off <= size_ && len <= size_ - off; }
  // The NUL-terminated string at `off`, cut at the end of the file.
  std::string cstring_at(uint64_t off) const {
    return off >= size_ ? "" : std::string(data_ + off, strnlen(data_ + off, size_ - off));
  }

 private:
  char* data_;
  std::size_t size_;
};

// An Elf handle on the mapped image, ended with its scope.
class ElfHandle {
 public:
  explicit ElfHandle(const Mapping& m) {
    elf_version(EV_CURRENT);
    elf_ = elf_memory(m.data(), m.size());
  }
  ~ElfHandle() {
    if (elf_) elf_end(elf_);
  }
  ElfHandle(const ElfHandle&) = delete;
  ElfHandle& operator=(const ElfHandle&) = delete;
  Elf* get() const { return elf_; }

 private:
  Elf* elf_;
};

// Whether the notes of [off, off + size) hold the Go linker's build-id note.
bool has_go_note(Elf* e, uint64_t off, uint64_t size, uint64_t align) {
  Elf_Data* data = elf_getdata_rawchunk(e, static_cast<int64_t>(off), size, align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
  if (!data) return false;
  GElf_Nhdr n;
  std::size_t pos = 0, name_at = 0, desc_at = 0;
  while ((pos = gelf_getnote(data, pos, &n, &name_at, &desc_at)) > 0) {
    if (n.n_type == kGoBuildIdNote && n.n_namesz == 3 &&
        memcmp(static_cast<const char*>(data->d_buf) + name_at, "Go", 3) == 0)
      return true;
  }
  return false;
}

// The evidence of a Go program in the section names, when the section
// headers are there (strip keeps them); "" if none.
std::string go_sections(Elf* e, const Mapping& m) {
  std::size_t names = 0;
  if (elf_getshdrstrndx(e, &names) != 0) return "";
  for (Elf_Scn* scn = elf_nextscn(e, nullptr); scn; scn = elf_nextscn(e, scn)) {
    GElf_Shdr s;
    if (!gelf_getshdr(scn, &s)) continue;
    const char* name = elf_strptr(e, names, s.sh_name);
    if (!name) continue;
    if (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".note.go.buildid") == 0 ||
        strcmp(name, ".gopclntab") == 0)
      return std::string("a ") + name + " section";
    if (strcmp(name, ".strtab") == 0 && m.holds(s.sh_offset, s.sh_size) &&
        memmem(m.data() + s.sh_offset, s.sh_size, "runtime.main", sizeof("runtime.main")) != nullptr)
      return "the symbol runtime.main";
  }
  return "";
}

bool parse(Mapping& m, ElfFacts* f, std::string* error) {
  // libelf takes a file whose identification version is not EV_CURRENT for
  // no ELF file; the kernel runs it all the same. The private copy says 1.
  m.data()[EI_VERSION] = EV_CURRENT;
  ElfHandle handle(m);
  Elf* e = handle.get();
  GElf_Ehdr eh;
  if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) return (*error = "the ELF header is cut short", false);
  f->type = eh.e_type;
  f->machine = eh.e_machine;

  // libelf counts only the program headers that fit in the file; the
  // header's own count (PN_XNUM: the count is in section 0) says whether
  // some do not.
  std::size_t phnum = 0;
  if (elf_getphdrnum(e, &phnum) != 0) return (*error = "its program headers lie outside the file", false);
  if (eh.e_phnum != PN_XNUM) phnum = eh.e_phnum;
  const std::size_t phsize = gelf_fsize(e, ELF_T_PHDR, 1, EV_CURRENT);
  if (phnum && (eh.e_phentsize != phsize || !m.holds(eh.e_phoff, uint64_t{phnum} * phsize)))
    return (*error = "its program headers lie outside the file", false);
  std::vector<GElf_Phdr> ph(phnum);
  for (std::size_t i = 0; i < phnum; ++i)
    if (!gelf_getphdr(e, static_cast<int>(i), &ph[i]))
      return (*error = "its program headers lie outside the file", false);

  // Virtual address -> file offset, through the PT_LOAD segments.
  auto file_offset = [&](uint64_t vaddr, uint64_t* off) {
    for (const GElf_Phdr& p : ph) {
      if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr - p.p_vaddr < p.p_filesz) {
        *off = p.p_offset + (vaddr - p.p_vaddr);
        return true;
      }
    }
    return false;
  };

  const GElf_Phdr* dynamic = nullptr;
  for (const GElf_Phdr& p : ph) {
    if (p.p_type == PT_INTERP) {
      if (!m.holds(p.p_offset, p.p_filesz)) return (*error = "its PT_INTERP lies outside the file", false);
      f->has_interp = true;
      f->interp = std::string(m.data() + p.p_offset, strnlen(m.data() + p.p_offset, p.p_filesz));
    } else if (p.p_type == PT_DYNAMIC) {
      f->has_dynamic = true;
      dynamic = &p;
    } else if (p.p_type == PT_NOTE && f->go_evidence.empty() && m.holds(p.p_offset, p.p_filesz) &&
               has_go_note(e, p.p_offset, p.p_filesz, p.p_align)) {
      f->go_evidence = "a Go build-ID note";
    }
  }

  // The dynamic section through its segment: a file whose section headers
  // were removed still has it.
  if (dynamic) {
    Elf_Data* data = m.holds(dynamic->p_offset, dynamic->p_filesz)
                         ? elf_getdata_rawchunk(e, static_cast<int64_t>(dynamic->p_offset), dynamic->p_filesz,
                                                ELF_T_DYN)
                         : nullptr;
    if (!data) return (*error = "its dynamic section lies outside the file", false);
    std::vector<uint64_t> needed_offsets;
    uint64_t strtab = 0;
    bool have_strtab = false;
    GElf_Dyn d;
    for (int i = 0; gelf_getdyn(data, i, &d); ++i) {
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
      for (uint64_t n : needed_offsets) f->needed.push_back(m.cstring_at(strtab_off + n));
  }

  if (f->go_evidence.empty()) f->go_evidence = go_sections(e, m);
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
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
  const char* d = m.data();
  if (m.holds(0, 2) && d[0] == '#' && d[1] == '!') {
    out->kind = FileKind::script;
    const char* nl = static_cast<const char*>(memchr(d, '\n', m.size()));
    std::size_t len = nl ? static_cast<std::size_t>(nl - d) : m.size();
    out->shebang = trim(std::string(d + 2, len - 2));
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
  f.native_order = f.little_endian == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  if (d[EI_CLASS] == ELFCLASS64 || d[EI_CLASS] == ELFCLASS32) {
    f.bits = d[EI_CLASS] == ELFCLASS64 ? 64 : 32;
    return !f.native_order || parse(m, &f, error);
  }
  *error = "an ELF file of unknown class " + std::to_string(static_cast<unsigned char>(d[EI_CLASS]));
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
