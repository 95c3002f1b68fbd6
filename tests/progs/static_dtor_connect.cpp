// The socket calls of a C++ static destructor, which runs at exit like an
// atexit handler: it connects to a loopback port nobody listens on
// (refused) and prints what it saw.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

struct RefusedAtExit {
  int holder = -1;
  int port = 0;
  RefusedAtExit() {
    // A bound socket that does not listen: connects to it are refused.
    holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(in);
    bind(holder, reinterpret_cast<sockaddr*>(&in), len);
    getsockname(holder, reinterpret_cast<sockaddr*>(&in), &len);
    port = ntohs(in.sin_port);
  }
  ~RefusedAtExit() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons(static_cast<unsigned short>(port));
    int r = connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in));
    int err = errno;
    std::printf("destructor connect: %d %s\n", r, r < 0 ? strerrorname_np(err) : "OK");
    std::fflush(stdout);
    close(fd);
    close(holder);
  }
};

RefusedAtExit g_refused;

}  // namespace

int main() {
  std::printf("main done\n");
  return 0;
}
