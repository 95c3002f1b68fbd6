// The log: where records go, and how they get there intact, without the
// program noticing (see log.cpp).
#pragma once
#include <cstddef>
#include <string>
#include <cstdint>

#include "config.h"

namespace sd {

// Opens the destination named by the configuration (at start-up; a %p
// log is only checked, each process's file is opened by its first record).
// False, with one line saying why in `error`, when it cannot be used.
bool log_open(const Config&, std::string* error);
// Writes one complete record (one line) to the log, or counts it dropped.
void log_write(const char* data, std::size_t len);
// Writes one complete line to `fd` (the summary file) as log_write writes
// to the log: whole or not at all, bounded in time, no signal left behind.
void write_record(int fd, const char* data, std::size_t len);
// True for the library's own log fd: to the program it is not open.
bool is_log_fd(int fd);
// The log fd number, -1 when there is none (the stderr log has no fd of
// its own: it writes to fd 2 as long as fd 2 is what it was).
int log_fd();

// The program changes its fds (hooks, before the real call unless said):
// close(fd).
void log_fd_closing(int fd);
// close_range(first, last, flags) or closefrom(first).
void log_fds_closing(unsigned first, unsigned last, int flags);
// dup2/dup3 onto `fd`: the log's own fd moves out of the way; a stderr log
// lets go of fd 2 until log_dup_done.
void log_evacuate(int fd);
// After the real dup2/dup3 (whatever it returned): a stderr log let go by
// log_evacuate in this thread follows fd 2 to where it now points.
void log_dup_done();

// The program changed RLIMIT_FSIZE (setrlimit/prlimit): the log reads it
// again before its next write to a file.
void log_fsize_limit_changed();

// Moves a library-owned fd out of the program's way: to the highest free
// number below the fd limit, with FD_CLOEXEC (the original is closed).
// Returns the new number, or `fd` itself when no high number is free.
int move_high(int fd);

}  // namespace sd
