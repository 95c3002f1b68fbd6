// The private copy of a replayed log (see replay_copy.h).
#include "replay_copy.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "replay_plan.h"
#include "rules.h"
#include "usage.h"

namespace sdcli {

ReplayCopy::ReplayCopy(const std::string& file) {
  sd::ReplayPlan plan;
  std::string error;
  if (!sd::read_replay_file(file.c_str(), &plan, &error)) throw UsageError("--replay: " + error);
  sd::free_rules(plan.set);
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const char* tmp = std::getenv("TMPDIR");
  path_ = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/sockdiag-replay-XXXXXX";
  int fd = mkstemp(path_.data());  // 0600: the log may say what the program does
  if (fd < 0) throw UsageError("--replay: cannot create the private copy " + path_ + ": " + std::strerror(errno));
  const std::string& bytes = text.str();
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      close(fd);
      unlink(path_.c_str());
      throw UsageError("--replay: cannot write the private copy " + path_ + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  close(fd);
}

ReplayCopy::~ReplayCopy() { unlink(path_.c_str()); }

}  // namespace sdcli
