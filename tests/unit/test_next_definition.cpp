// Reading the next definitions from the symbol tables (shim/core/next_definition.cpp)
// must give what dlsym(RTLD_NEXT) gives, or leave the answer to it.
#include <dlfcn.h>
#include <link.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "next_definition.h"

using namespace sd;

namespace {
// This program's own entry: the lookups start after it, as RTLD_NEXT from here.
const link_map* own_map() {
  dl_find_object found{};
  REQUIRE(_dl_find_object(reinterpret_cast<void*>(&own_map), &found) == 0);
  return found.dlfo_link_map;
}

const char* object_of(void* address) {
  Dl_info info{};
  return address && dladdr(address, &info) && info.dli_fname ? info.dli_fname : "";
}
}  // namespace

TEST_CASE("next_definitions agrees with dlsym(RTLD_NEXT) or leaves the name to it", "[next_definition]") {
  std::vector<const char*> names = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) #name,
#include "hooks.def"
#undef SD_HOOK
  };
  const std::size_t hooks = names.size();
  // Beyond the hooks: a versioned function with an older hidden version
  // (pthread_create), data (environ), an IFUNC (memcpy), a name nobody
  // defines, syscall and prctl (bound by name too).
  for (const char* extra : {"pthread_create", "environ", "memcpy", "sockdiag_no_such_name", "syscall", "prctl"})
    names.push_back(extra);
  std::vector<uint32_t> hashes;
  for (const char* n : names) hashes.push_back(gnu_hash(n));
  std::vector<void*> out(names.size(), reinterpret_cast<void*>(1));
  next_definitions(own_map(), names.data(), hashes.data(), names.size(), out.data());
  for (std::size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    void* expected = dlsym(RTLD_NEXT, names[i]);
    if (out[i]) CHECK(out[i] == expected);
    // Only libc defines a hook's name in this process (unless a sanitizer
    // runtime interposes too): the tables answer it, no dlsym needed.
    if (i < hooks && expected && std::strstr(object_of(expected), "libc.so")) CHECK(out[i] != nullptr);
  }
  auto at = [&](const char* name) { return out[std::find_if(names.begin(), names.end(), [&](const char* n) {
                                                return std::strcmp(n, name) == 0;
                                              }) - names.begin()]; };
  CHECK(at("memcpy") == nullptr);  // an IFUNC: its address comes from its resolver
  CHECK(at("sockdiag_no_such_name") == nullptr);
  // A name with an older, hidden version beside its default one is answered
  // too, where libc alone defines it (a sanitizer runtime defines its own
  // pthread_create: two definers, left to dlsym).
  void* create = dlsym(RTLD_NEXT, "pthread_create");
  if (create && std::strstr(object_of(create), "libc.so")) CHECK(at("pthread_create") != nullptr);
}

TEST_CASE("next_definitions leaves every name to dlsym without a starting object", "[next_definition]") {
  const char* name = "connect";
  uint32_t hash = gnu_hash(name);
  void* out = reinterpret_cast<void*>(1);
  next_definitions(nullptr, &name, &hash, 1, &out);
  CHECK(out == nullptr);
}

TEST_CASE("gnu_hash is the loader's", "[next_definition]") {
  // Values from the ELF gABI's GNU hash description (dl_new_hash).
  STATIC_REQUIRE(gnu_hash("") == 5381u);
  STATIC_REQUIRE(gnu_hash("printf") == 0x156b2bb8u);
  STATIC_REQUIRE(gnu_hash("exit") == 0x7c967e3fu);
}
