// Where the next definitions of a set of names are, found by reading the
// symbol tables of the loaded objects the way the loader does, without a
// call into it: no lock, no allocation, some 100 instructions a name where
// dlsym(RTLD_NEXT) costs 850 (start-up binds every hook: interpose.cpp).
#pragma once
#include <link.h>

#include <cstddef>
#include <cstdint>

namespace sd {

// The GNU hash of a symbol name (the loader's dl_new_hash).
constexpr uint32_t gnu_hash(const char* name) {
  uint32_t h = 5381;
  for (; *name; ++name) h = h * 33 + static_cast<unsigned char>(*name);
  return h;
}

// For each of the n names (with their gnu_hash), the address of its
// definition in the objects after `self` in the load order, which is what
// dlsym(RTLD_NEXT, name) called from `self` returns. out[i] is nullptr where
// that answer is not certain from the tables alone, and the caller must ask
// dlsym: no object or more than one defines the name (the search order
// then decides, or an object is not in the global scope), the definition
// is an IFUNC or a GNU unique symbol, an object has no DT_GNU_HASH, or an
// auditor (LD_AUDIT, DT_AUDIT) may rebind. `self` must be an object loaded
// with the program (a preload or the program itself). The list of objects
// is read without the loader's lock: call it at start-up, before the
// program's threads can load or unload objects.
void next_definitions(const link_map* self, const char* const* names, const uint32_t* hashes, std::size_t n,
                      void** out);

}  // namespace sd
