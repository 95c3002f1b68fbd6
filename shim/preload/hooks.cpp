// The exported hooks: one definition per line of hooks.def, all alike, each
// the same body (hook.h).
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

#define SD_EXPORT __attribute__((visibility("default")))

#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) \
  extern "C" SD_EXPORT ret name params { return sd::hook<sd::Call::name> args; }

// fcntl's third argument is read the way glibc reads it: one pointer-sized
// word, which the kernel narrows for the int-valued commands.
#define SD_HOOK_VA(group, ret, name, params, args, sysno, rule, cls, retry) \
  extern "C" SD_EXPORT ret name params {                  \
    va_list ap;                                           \
    va_start(ap, cmd);                                    \
    void* arg = va_arg(ap, void*);                        \
    va_end(ap);                                           \
    return sd::hook<sd::Call::name> args;                 \
  }

#include "hooks.def"
