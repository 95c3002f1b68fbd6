// Which observer handles each hook: hooks.def's GROUP column, as an enum
// the observers test at compile time.
#pragma once
#include <cstddef>
#include <cstdint>

#include "calls.h"

namespace sd {

enum class Group : uint8_t {
  socket, socketpair, connect, sockop, accept, output, input, close, close_range, getsockopt, setsockopt,
  poll, select, epoll_wait, epoll_ctl, getaddrinfo, dup, fcntl, stdfds, rlimit,
};

constexpr Group kGroups[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) Group::group,
#include "hooks.def"
#undef SD_HOOK
};
constexpr Group group_of(Call c) { return kGroups[static_cast<std::size_t>(c)]; }

}  // namespace sd
