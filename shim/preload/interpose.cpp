// Binding each hook to the function it replaces.
#include "interpose.h"

#include "config_state.h"
#include "control.h"
#include "next_definition.h"
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
  if (control_pending()) control_apply();
  if (t_depth == 0) return false;
  if (t_resolver != 0) return true;
  if (t_depth < kObservedDepth) return false;
  g_unobserved_nested.fetch_add(1, std::memory_order_relaxed);
  return true;
}

namespace {
// The hooked names, then syscall (syscall_route.cpp), bound in one pass.
constexpr const char* kNames[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) #name,
#include "hooks.def"
#undef SD_HOOK
    "syscall",
};
constexpr std::size_t kSyscallName = kCallCount;
constexpr uint32_t kHashes[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) gnu_hash(#name),
#include "hooks.def"
#undef SD_HOOK
    gnu_hash("syscall"),
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == kCallCount + 1, "one name per hook, then syscall");
void* g_next_syscall = nullptr;

// Whether an address lies in this library's own image (RTLD_NEXT can come
// back to us when the library is loaded twice): the hooks are its only
// exported functions, so the address of a hooked name found inside it is our
// own hook. The linker's bounds of the image, [__ehdr_start, _end): one
// comparison, where asking the loader (dladdr, dlopen, dlsym) cost some
// 8,000 instructions per name at start-up.
extern "C" const char __ehdr_start[] __attribute__((visibility("hidden")));
extern "C" const char _end[] __attribute__((visibility("hidden")));
bool own_address(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  return a >= reinterpret_cast<uintptr_t>(__ehdr_start) && a < reinterpret_cast<uintptr_t>(_end);
}
// This library's own entry in the loader's list.
const link_map* self_map() {
  dl_find_object found{};
  return _dl_find_object(reinterpret_cast<void*>(&self_map), &found) == 0 ? found.dlfo_link_map : nullptr;
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
  const link_map* self = self_map();
  if (!self) return false;
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

void* bound_syscall() { return g_next_syscall; }

void* find_next(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr || own_address(p)) p = dlsym(RTLD_DEFAULT, name);
  return p == nullptr || own_address(p) ? nullptr : p;
}

void* find_real(Call c) { return find_next(kNames[static_cast<std::size_t>(c)]); }

namespace {
template <Call C>
void bind(void* next) {
  if (next && !own_address(next)) g_real<C>.store(reinterpret_cast<RealFn<C>>(next), std::memory_order_relaxed);
  else resolve<C>();
}
}  // namespace

void resolve_all() {
  // Read from the symbol tables where the answer is certain; dlsym for the
  // rest (another preload defining the same names, an auditor...).
  void* next[kCallCount + 1];
  next_definitions(self_map(), kNames, kHashes, kCallCount + 1, next);
  if (next[kSyscallName] && !own_address(next[kSyscallName])) g_next_syscall = next[kSyscallName];
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) bind<Call::name>(next[static_cast<std::size_t>(Call::name)]);
#include "hooks.def"
#undef SD_HOOK
}

}  // namespace sd
