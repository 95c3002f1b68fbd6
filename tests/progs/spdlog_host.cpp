// A host program with its own spdlog (Debian's shared libspdlog): its own
// logger, pattern and level, and a default logger with another pattern.
// It also makes one refused connect, so that the library has something to
// record while the host logs. Output must not change under the library.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

int main() {
  // set_pattern without a logger changes every registered logger: first
  // the default's, then the host logger's own.
  spdlog::set_default_logger(spdlog::stdout_logger_st("default"));
  spdlog::set_pattern("<%n|%L> %v");
  auto host = spdlog::stdout_logger_st("host");
  host->set_pattern("[%n] %l: %v");
  host->set_level(spdlog::level::debug);

  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(in);
  bind(holder, reinterpret_cast<sockaddr*>(&in), len);
  getsockname(holder, reinterpret_cast<sockaddr*>(&in), &len);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int r = connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in));
  int err = errno;

  host->debug("connect returned {} ({})", r, err == ECONNREFUSED ? "refused" : "other");
  host->info("{:>8}|{:<6}|{:#x}", "right", "left", 255);
  spdlog::warn("default logger: {} loggers registered", spdlog::get("host") ? "host" : "none");
  host->error("pattern and level are the host's own");
  close(fd);
  close(holder);
  return 0;
}
