#include "journal_native.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace sdcli {


std::string journal_entry(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    out += key;
    if (value.find('\n') == std::string::npos) {
      out += '=';
      out += value;
    } else {
      out += '\n';
      uint64_t n = value.size();
      for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
      out += value;
    }
    out += '\n';
  }
  return out;
}

JournalWriter::JournalWriter() { fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) close(fd_);
}

bool JournalWriter::send(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string entry = journal_entry(fields);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, kJournalSocket);
  // By path each time: a journald restarted meanwhile is found again.
  ssize_t n = fd_ < 0 ? -1
                      : sendto(fd_, entry.data(), entry.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                               reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (n == static_cast<ssize_t>(entry.size())) return true;
  ++dropped_;
  return false;
}

}  // namespace sdcli
