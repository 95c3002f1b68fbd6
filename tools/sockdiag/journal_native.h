// Entries sent to systemd-journald by its native protocol
// (systemd.io/JOURNAL_NATIVE_PROTOCOL): one datagram per entry to
// /run/systemd/journal/socket, with any fields we like (SOCKDIAG_CODE=...),
// which spdlog's systemd_sink cannot carry. Written here rather than through
// libsystemd's sd_journal_sendv: the command is linked statically and Debian
// ships no static libsystemd.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sdcli {

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

class JournalWriter {
 public:
  JournalWriter();
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Sends one entry, never waiting: false (and counted in dropped()) when
  // journald is absent or its socket full.
  bool send(const std::vector<std::pair<std::string, std::string>>& fields);
  uint64_t dropped() const { return dropped_; }

 private:
  int fd_ = -1;
  uint64_t dropped_ = 0;
};

// One entry in the protocol's form: KEY=VALUE lines, and the binary-safe
// KEY\n<64-bit little-endian length>VALUE\n for a value holding a newline.
std::string journal_entry(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace sdcli
