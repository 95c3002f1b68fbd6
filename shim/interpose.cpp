// Binding each hook to the function it replaces.
#include "interpose.h"

#include "config_state.h"
#include "vm_children.h"

#include <dlfcn.h>
#include <link.h>

#include <cstring>

namespace sd {

__thread unsigned t_depth __attribute__((tls_model("initial-exec"))) = 0;
__thread unsigned t_resolver __attribute__((tls_model("initial-exec"))) = 0;
std::atomic<uint64_t> g_unobserved_nested{0};

bool passes_through() {
  if (g_passive) return true;
  if (g_vm_sharing.load(std::memory_order_relaxed) != 0 && in_vm_child()) {
    g_vm_child_calls.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (t_depth == 0) return false;
  if (t_resolver != 0) return true;
  if (t_depth < kObservedDepth) return false;
  g_unobserved_nested.fetch_add(1, std::memory_order_relaxed);
  return true;
}

namespace {
constexpr const char* kNames[] = {
#define SD_HOOK(group, ret, name, params, args, sysno) #name,
#include "hooks.def"
#undef SD_HOOK
};

// Our own definition of each hooked name, so that we never bind to ourselves
// (RTLD_NEXT can come back to us if the library is loaded twice).
void* own_address(const char* name) {
  Dl_info self{};
  static const int anchor = 0;
  if (!dladdr(&anchor, &self)) return nullptr;
  void* handle = dlopen(self.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
  if (!handle) return nullptr;
  void* p = dlsym(handle, name);
  dlclose(handle);
  return p;
}
// The DT_SONAME of a loaded object, nullptr when it has none.
const char* soname_of(const link_map* map) {
  if (!map || !map->l_ld) return nullptr;
  ElfW(Addr) strtab = 0;
  const ElfW(Xword)* soname = nullptr;
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_STRTAB) strtab = d->d_un.d_ptr;
    else if (d->d_tag == DT_SONAME) soname = &d->d_un.d_val;
  }
  if (!strtab || !soname) return nullptr;
  // The loader relocates DT_STRTAB in place on most targets; where the
  // dynamic section is read-only it is still an offset from the base.
  if (strtab < map->l_addr) strtab += map->l_addr;
  return reinterpret_cast<const char*>(strtab) + *soname;
}
}  // namespace

// The objects loaded before this one, in the lookup order (the program,
// then LD_PRELOAD's entries in order): one with this library's soname is
// another copy whose hooks come first, whatever other interposers (a
// sanitizer runtime, a user's preload) come before both.
bool another_copy_first(const char** path) {
  static const int anchor = 0;
  Dl_info info{};
  link_map* self = nullptr;
  if (!dladdr1(&anchor, &info, reinterpret_cast<void**>(&self), RTLD_DL_LINKMAP) || !self) return false;
  const char* own = soname_of(self);
  if (!own) return false;
  for (const link_map* m = self->l_prev; m; m = m->l_prev) {
    const char* other = soname_of(m);
    if (other && std::strcmp(own, other) == 0) {
      *path = m->l_name;
      return true;
    }
  }
  return false;
}

const char* call_name(Call c) { return kNames[static_cast<std::size_t>(c)]; }

void* find_next(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr || p == own_address(name)) p = dlsym(RTLD_DEFAULT, name);
  return p == own_address(name) ? nullptr : p;
}

void* find_real(Call c) { return find_next(kNames[static_cast<std::size_t>(c)]); }

void resolve_all() {
#define SD_HOOK(group, ret, name, params, args, sysno) resolve<Call::name>();
#include "hooks.def"
#undef SD_HOOK
}

}  // namespace sd
