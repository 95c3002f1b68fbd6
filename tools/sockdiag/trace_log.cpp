#include "trace_log.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "destination.h"
#include "text.h"

namespace sdcli {

RecordLog::RecordLog(const sd::Config& config) {
  if (std::strcmp(config.log, "stderr") != 0) path_ = config.log;
  per_pid_ = path_.find("%p") != std::string::npos;
}

RecordLog::~RecordLog() {
  for (const auto& [path, fd] : fds_)
    if (fd >= 0) close(fd);
}

int RecordLog::fd_for(long pid) {
  if (path_.empty()) return STDERR_FILENO;
  // The library's expansion (log.cpp): %p the pid, %% a '%'.
  std::string path;
  for (std::size_t i = 0; i < path_.size(); ++i) {
    if (path_[i] == '%' && i + 1 < path_.size() && (path_[i + 1] == 'p' || path_[i + 1] == '%')) {
      path += path_[i + 1] == 'p' ? std::to_string(pid) : "%";
      ++i;
    } else {
      path += path_[i];
    }
  }
  auto it = fds_.find(path);
  if (it != fds_.end()) return it->second;
  // The library's own open: same checks, mode 0600 for a new file.
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  sd::Refusal why;
  int fd = sd::open_destination(buf.data(), sd::Destination::log, &why);
  if (fd >= 0) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  } else if (!refusal_said_) {
    refusal_said_ = true;
    std::fprintf(stderr, "sockdiag run: records dropped: %s\n",
                 one_line(sd::describe_refusal("--log", path.c_str(), sd::Destination::log, why)).c_str());
  }
  fds_[path] = fd;
  return fd;
}

void RecordLog::write(long pid, std::string_view line) {
  int fd = fd_for(per_pid_ ? pid : 0);
  if (fd < 0) return;
  while (!line.empty()) {
    ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk or a closed stderr: the record is lost, the run goes on
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace sdcli
