// Where the strace engine's records go, as the library's own log does: the
// --log setting's "stderr", or a file appended to, '%p' in its name being the
// pid of the process the record is about (one file per process).
#pragma once
#include <map>
#include <string>
#include <string_view>

#include "config.h"

namespace sdcli {

class RecordLog {
 public:
  explicit RecordLog(const sd::Config& config);
  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // `line`: one complete record ending in '\n'; `pid`: the process it is about.
  // A file that cannot be opened is said on stderr (once: with %p, for the
  // first pid whose file fails) and its records are dropped: the run goes on.
  void write(long pid, std::string_view line);

 private:
  std::string path_;                 // "" for stderr; %p not expanded
  bool per_pid_ = false;
  std::map<std::string, int> fds_;   // expanded path -> fd, opened once and kept
  bool refusal_said_ = false;

  int fd_for(long pid);
};

}  // namespace sdcli
