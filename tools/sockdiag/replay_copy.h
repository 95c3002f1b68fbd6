// `sockdiag run --replay FILE`: the log of the run to replay, checked whole
// here (the library's own reader, so the two never disagree) and copied to
// a private file that every process of the tree reads at its start: the
// log may be written again meanwhile (even by this very run).
#pragma once
#include <string>

namespace sdcli {

class ReplayCopy {
 public:
  // Throws UsageError with one line when FILE cannot be read or replayed.
  explicit ReplayCopy(const std::string& file);
  ~ReplayCopy();
  ReplayCopy(const ReplayCopy&) = delete;
  ReplayCopy& operator=(const ReplayCopy&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sdcli
