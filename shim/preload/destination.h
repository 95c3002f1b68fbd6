// Where records may go: checking and opening the log and summary paths
// safely. Shared by the library (log.cpp, summary.cpp, the check before
// main) and by `sockdiag run`, which checks the same before starting CMD.
//
// A path is opened relative to its directory, opened first: the last
// component is inspected with fstatat(AT_SYMLINK_NOFOLLOW) and opened with
// O_NOFOLLOW unless it is a link the kernel's protected_symlinks rule would
// follow, so nothing can be swapped in between the look and the open.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace sd {

// The log takes a regular file, a FIFO that a reader has open, or a
// character device (/dev/null, a terminal); the summary file (appended to
// by a whole process tree, read back by `sockdiag run --summary`) only a
// regular file.
enum class Destination : uint8_t { log, summary };

// Why a destination was refused: filled without allocating, so that the
// open of a per-process log (at the first record, perhaps in a signal
// handler) can use it; describe() makes the message.
struct Refusal {
  enum Why : uint8_t {
    none,
    names_directory,    // empty last component ("dir/")
    no_directory,       // the directory cannot be opened (err says why)
    not_writable,       // a new file cannot be made there (err)
    untrusted_link,     // a symlink of another user in a sticky world-writable directory
    untrusted_file,     // a file of another user in a sticky world-writable directory
    wrong_type,         // a directory, a socket, a block device; for the summary anything but a file
    fifo_no_reader,     // a FIFO that no process has open for reading
    cannot_open,        // open(2) failed (err)
    unstable,           // replaced between each look and open, round after round
  };
  Why why = none;
  int err = 0;      // errno, for no_directory, not_writable and cannot_open
  uid_t owner = 0;  // of the refused link or file
  uid_t dir_owner = 0;
  mode_t type = 0;  // S_IFMT bits of a file of the wrong type
};

// Opens `path` for appending records (O_APPEND, O_CLOEXEC, blocking writes;
// a new file is made with mode 0600). Never blocks: a FIFO without a reader
// is refused rather than waited for. Returns the fd, or -1 with `why` set.
// Async-signal-safe.
// `path` is written to during the call (split where its last '/' is) and
// restored before it returns.
int open_destination(char* path, Destination kind, Refusal* why);

// The same checks without creating or opening the file itself (the file of
// a process that has written nothing yet; the command's check of what CMD
// will open). A FIFO passes: only opening it tells whether a reader is there.
bool check_destination(const char* path, Destination kind, Refusal* why);

// "'PATH': what is wrong; accepted: ..." for `setting` (a variable, or an
// option of the command), as one line.
std::string describe_refusal(const std::string& setting, const char* path, Destination kind, const Refusal& why);

// The name a message gives a setting: its variable when that is set (it
// overrides the SOCKDIAG_CONFIG file), else `key` in that file.
std::string setting_name(const char* variable, const char* key);

// The check before main of the summary file, written at exit: false, with
// the line that refuses it in `error`, when it could not be used.
bool summary_path_usable(const char* path, std::string* error);

}  // namespace sd
