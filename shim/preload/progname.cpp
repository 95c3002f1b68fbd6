// The program's name, copied before the program can rewrite its argv (see progname.h).
#include "progname.h"

#include <errno.h>

#include <cstring>

namespace sd {
namespace {
char g_name[256];
}  // namespace

void remember_program_name() {
  // Written once before main: read without a lock afterwards.
  std::strncpy(g_name, program_invocation_short_name, sizeof(g_name) - 1);
}

const char* program_name() { return g_name[0] ? g_name : program_invocation_short_name; }

}  // namespace sd
