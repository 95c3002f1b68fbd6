// The log: where records go, and how they get there intact.
#pragma once
#include <cstddef>
#include <string>

#include "config.h"

namespace sd {

// Opens the destination named by the configuration (at start-up; a %p
// log is only checked, each process's file is opened by its first record).
// False, with one line saying why in `error`, when it cannot be used.
bool log_open(const Config&, std::string* error);
// Writes one complete record with a single write(2), bypassing the hooks.
void log_write(const char* data, std::size_t len);
// One write(2) of a whole record to `fd` (EINTR retried, SIGPIPE never
// raised, not a cancellation point).
void write_record(int fd, const char* data, std::size_t len);
// True for the library's own log fd: the program may not close or reuse it.
bool is_log_fd(int fd);
// The program is about to make `fd` name something else (dup2 onto it):
// move the log elsewhere first.
void log_evacuate(int fd);
// The log fd number, -1 when there is none.
int log_fd();
// Moves a library-owned fd out of the program's way: to a high number, with
// FD_CLOEXEC (the original is closed). Returns the new number.
int move_high(int fd);

}  // namespace sd
