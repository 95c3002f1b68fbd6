// Binding each hook to the function it replaces.
#include "interpose.h"

#include <dlfcn.h>

namespace sd {

__thread unsigned t_depth __attribute__((tls_model("initial-exec"))) = 0;
__thread unsigned t_resolver __attribute__((tls_model("initial-exec"))) = 0;
std::atomic<uint64_t> g_unobserved_nested{0};

bool nested_passes_through() {
  if (t_resolver != 0) return true;
  if (t_depth < kObservedDepth) return false;
  g_unobserved_nested.fetch_add(1, std::memory_order_relaxed);
  return true;
}

namespace {
constexpr const char* kNames[] = {
#define SD_HOOK(group, ret, name, params, args) #name,
#include "hooks.def"
#undef SD_HOOK
};

// Our own definition of each hooked name, so that we never bind to ourselves
// (RTLD_NEXT can come back to us if the library is loaded twice).
void* own_address(Call c) {
  Dl_info self{};
  static const int anchor = 0;
  if (!dladdr(&anchor, &self)) return nullptr;
  void* handle = dlopen(self.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
  if (!handle) return nullptr;
  void* p = dlsym(handle, kNames[static_cast<std::size_t>(c)]);
  dlclose(handle);
  return p;
}
}  // namespace

const char* call_name(Call c) { return kNames[static_cast<std::size_t>(c)]; }

void* find_real(Call c) {
  const char* name = kNames[static_cast<std::size_t>(c)];
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr || p == own_address(c)) p = dlsym(RTLD_DEFAULT, name);
  return p == own_address(c) ? nullptr : p;
}

void resolve_all() {
#define SD_HOOK(group, ret, name, params, args) resolve<Call::name>();
#include "hooks.def"
#undef SD_HOOK
}

}  // namespace sd
