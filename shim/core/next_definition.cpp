// Reading loaded objects' dynamic symbol tables (see next_definition.h).
#include "next_definition.h"

#include <elf.h>  // ELF64_ST_*: the loader's ELFW() is private; this library is 64-bit
#include <unistd.h>


namespace sd {
namespace {

// One loaded object's dynamic symbol table and GNU hash table.
struct Table {
  ElfW(Addr) base = 0;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Half)* versym = nullptr;
  uint32_t nbuckets = 0, symoffset = 0, bloom_size = 0, bloom_shift = 0;
  const ElfW(Addr)* bloom = nullptr;
  const uint32_t* buckets = nullptr;
  const uint32_t* chain = nullptr;
};

// The loader relocates the dynamic section's addresses in place, except
// where it is read-only (the vDSO's): those are still offsets from the base.
ElfW(Addr) address_of(const link_map* m, ElfW(Addr) p) { return p < m->l_addr ? p + m->l_addr : p; }

bool has_auditor(const link_map* m) {
  for (const ElfW(Dyn)* d = m->l_ld; d && d->d_tag != DT_NULL; ++d)
    if (d->d_tag == DT_AUDIT || d->d_tag == DT_DEPAUDIT) return true;
  return false;
}

bool read_table(const link_map* m, Table* t) {
  ElfW(Addr) gnu_hash = 0;
  t->base = m->l_addr;
  for (const ElfW(Dyn)* d = m->l_ld; d && d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_GNU_HASH) gnu_hash = address_of(m, d->d_un.d_ptr);
    else if (d->d_tag == DT_SYMTAB) t->symtab = reinterpret_cast<const ElfW(Sym)*>(address_of(m, d->d_un.d_ptr));
    else if (d->d_tag == DT_STRTAB) t->strtab = reinterpret_cast<const char*>(address_of(m, d->d_un.d_ptr));
    else if (d->d_tag == DT_VERSYM) t->versym = reinterpret_cast<const ElfW(Half)*>(address_of(m, d->d_un.d_ptr));
  }
  if (!gnu_hash || !t->symtab || !t->strtab) return false;
  auto words = reinterpret_cast<const uint32_t*>(gnu_hash);
  t->nbuckets = words[0];
  t->symoffset = words[1];
  t->bloom_size = words[2];
  t->bloom_shift = words[3];
  if (t->nbuckets == 0 || t->bloom_size == 0) return false;
  t->bloom = reinterpret_cast<const ElfW(Addr)*>(words + 4);
  t->buckets = reinterpret_cast<const uint32_t*>(t->bloom + t->bloom_size);
  t->chain = t->buckets + t->nbuckets;
  return true;
}

// No call into libc here: each first call of a libc function costs the
// lazy binding of its PLT slot (some 700 instructions).
bool same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

bool same_prefix(const char* s, const char* prefix) {
  while (*prefix && *s == *prefix) ++s, ++prefix;
  return *prefix == '\0';
}

enum class Found { none, one, ask };

// The definition of `name` in one object, as dlsym's lookup accepts it:
// defined, of a kind the loader binds, global or weak; unversioned, or the
// one default (not hidden) version.
Found find(const Table& t, const char* name, uint32_t h, void** where) {
  constexpr unsigned kBits = sizeof(ElfW(Addr)) * 8;
  ElfW(Addr) word = t.bloom[(h / kBits) % t.bloom_size];
  ElfW(Addr) mask = (ElfW(Addr){1} << (h % kBits)) | (ElfW(Addr){1} << ((h >> t.bloom_shift) % kBits));
  if ((word & mask) != mask) return Found::none;
  uint32_t i = t.buckets[h % t.nbuckets];
  if (i < t.symoffset) return Found::none;
  const ElfW(Sym)* versioned = nullptr;
  unsigned versions = 0;
  for (;; ++i) {
    uint32_t h2 = t.chain[i - t.symoffset];
    const ElfW(Sym)& s = t.symtab[i];
    if ((h | 1) == (h2 | 1) && same(name, t.strtab + s.st_name) && s.st_value != 0) {
      unsigned type = ELF64_ST_TYPE(s.st_info);
      unsigned bind = ELF64_ST_BIND(s.st_info);
      bool kind_ok = type == STT_NOTYPE || type == STT_OBJECT || type == STT_FUNC || type == STT_COMMON;
      if (type == STT_GNU_IFUNC || type == STT_TLS || bind == STB_GNU_UNIQUE) return Found::ask;
      if (kind_ok && (bind == STB_GLOBAL || bind == STB_WEAK)) {
        ElfW(Half) v = t.versym ? t.versym[i] : 0;
        if ((v & 0x7fff) < 2) {
          *where = reinterpret_cast<void*>(t.base + s.st_value);
          return Found::one;
        }
        if (!(v & 0x8000)) {
          versioned = &s;
          ++versions;
        }
      }
    }
    if (h2 & 1) break;
  }
  if (versions > 1) return Found::ask;
  if (versions == 0) return Found::none;
  *where = reinterpret_cast<void*>(t.base + versioned->st_value);
  return Found::one;
}

}  // namespace

void next_definitions(const link_map* self, const char* const* names, const uint32_t* hashes, std::size_t n,
                      void** out) {
  // How many objects define each name: only a single definer is certain.
  constexpr std::size_t kMost = 64;
  uint8_t definers[kMost];
  bool ask[kMost];
  for (std::size_t i = 0; i < n; ++i) out[i] = nullptr;
  if (!self || n > kMost) return;
  for (std::size_t i = 0; i < n; ++i) definers[i] = 0, ask[i] = false;
  for (const link_map* m = self; m; m = m->l_prev)
    if (has_auditor(m)) return;
  for (char** e = environ; e && *e; ++e)
    if ((*e)[0] == 'L' && (*e)[1] == 'D' && (*e)[2] == '_' && same_prefix(*e, "LD_AUDIT=")) return;
  for (const link_map* m = self->l_next; m; m = m->l_next) {
    Table t;
    if (!read_table(m, &t)) {
      for (std::size_t i = 0; i < n; ++i) out[i] = nullptr;
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      void* where = nullptr;
      Found f = find(t, names[i], hashes[i], &where);
      if (f == Found::ask) ask[i] = true;
      if (f != Found::one) continue;
      if (definers[i] < 2 && definers[i]++ == 0) out[i] = where;
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (ask[i] || definers[i] != 1) out[i] = nullptr;
}

}  // namespace sd
