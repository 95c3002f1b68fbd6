// What the kernel says of a socket of a traced process, for the strace
// engine's records (trace_reader.h SocketFacts): its domain, type and local
// address, read through a copy of the descriptor (pidfd_getfd), and only
// when it is still the socket strace named (same inode).
#pragma once
#include "trace_reader.h"

namespace sdcli {

// false: the process or descriptor is gone, the number now names another
// file, or the kernel refused the copy (no permission). Never changes the
// traced process: the copy is closed here, and reading a socket's address
// or options moves no data.
bool socket_facts(long pid, int fd, unsigned long inode, SocketFacts* out);

}  // namespace sdcli
