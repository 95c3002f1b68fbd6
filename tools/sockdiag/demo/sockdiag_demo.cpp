// sockdiag-demo: a small program that meets four classic socket failures on
// loopback, for `sockdiag demo` (sockdiag run --summary --inject RULE -- this).
// It knows nothing of sockdiag: the explanations come from the library's
// records, printed on stderr between the lines of this story.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

// Every wait is bounded: the demo never hangs.
constexpr int kWaitMs = 2000;
constexpr int kWriteStepUs = 10000;  // between writes, waiting for the RST
constexpr int kDatabaseAttempts = 3;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "sockdiag-demo: %s: %s\n", what, strerror(errno));
  std::exit(1);
}

void say(const char* text) {
  std::fputs(text, stdout);
  std::fflush(stdout);  // before the library writes its record on stderr
}

sockaddr_in loopback(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A TCP socket bound to ip:0; listening when `backlog` > 0. Its address in *addr.
int bound_socket(const char* ip, int backlog, sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in a = loopback(ip, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("bind");
  if (backlog > 0 && listen(fd, backlog) != 0) fail("listen");
  socklen_t len = sizeof *addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len) != 0) fail("getsockname");
  return fd;
}

int connect_to(const sockaddr_in& a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// 1. Nobody listens on the port (the socket is bound, not listening): the
// kernel answers the SYN with a RST.
void refused() {
  say("\n1. Connecting to a port where nothing listens...\n");
  sockaddr_in addr{};
  int closed_port = bound_socket("127.0.0.1", 0, &addr);
  int fd = connect_to(addr);
  if (fd >= 0) {
    say("   unexpectedly connected\n");
    close(fd);
  } else {
    std::printf("   connect failed: %s\n", strerror(errno));
  }
  close(closed_port);
}

// A connection on loopback, both ends: the listener, our client end, and the
// server end it accepted.
void accepted_connection(int* listener, int* client, int* server) {
  sockaddr_in addr{};
  *listener = bound_socket("127.0.0.1", 1, &addr);
  *client = connect_to(addr);
  if (*client < 0) fail("connect");
  *server = accept(*listener, nullptr, nullptr);
  if (*server < 0) fail("accept");
}

// 2. The server closes with SO_LINGER {1, 0} while our request is unread:
// it sends a RST instead of a FIN, and our next recv fails.
void reset() {
  say("\n2. Sending a request to a server that aborts the connection...\n");
  int listener, client, server;
  accepted_connection(&listener, &client, &server);
  const char request[] = "GET / HTTP/1.0\r\n\r\n";
  if (send(client, request, sizeof request - 1, 0) < 0) fail("send");
  timeval bound{kWaitMs / 1000, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  linger abort_on_close{1, 0};
  setsockopt(server, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close(server);
  char buf[64];
  ssize_t n = recv(client, buf, sizeof buf, 0);
  if (n < 0)
    std::printf("   recv failed: %s\n", strerror(errno));
  else
    std::printf("   recv returned %zd\n", n);
  close(client);
  close(listener);
}

// 3. The server has closed the connection; our first write is answered with
// a RST, and the write after it fails with EPIPE. Without sockdiag (or with
// --sigpipe keep) SIGPIPE would end this program here.
void broken_pipe() {
  say("\n3. Writing to a server that has already closed the connection...\n");
  int listener, client, server;
  accepted_connection(&listener, &client, &server);
  close(server);
  const char line[] = "still there?\n";
  ssize_t n = 0;
  for (int waited = 0; n >= 0 && waited < kWaitMs * 1000; waited += kWriteStepUs) {
    n = send(client, line, sizeof line - 1, 0);
    if (n >= 0) usleep(kWriteStepUs);  // until the RST that answers it has come back
  }
  if (n < 0)
    std::printf("   send failed: %s (the process is still alive)\n", strerror(errno));
  else
    say("   both writes succeeded\n");
  close(client);
  close(listener);
}

// 4. A "database" on 127.0.0.2 is up; the demo's rule refuses the first two
// attempts to reach it, as a flaky network or a restarting server would.
void injected() {
  say("\n4. Connecting to a database that is up, with a fault injected by a sockdiag rule...\n");
  sockaddr_in addr{};
  int listener = bound_socket("127.0.0.2", 4, &addr);
  bool connected = false;
  for (int attempt = 1; attempt <= kDatabaseAttempts && !connected; ++attempt) {
    int fd = connect_to(addr);
    if (fd < 0) {
      std::printf("   attempt %d: connect failed: %s\n", attempt, strerror(errno));
      continue;
    }
    std::printf("   attempt %d: connected\n", attempt);
    connected = true;
    close(fd);
  }
  if (!connected) say("   gave up\n");
  close(listener);
}

}  // namespace

int main() {
  say("sockdiag-demo: four socket failures on loopback; sockdiag explains each on stderr.\n");
  refused();
  reset();
  broken_pipe();
  injected();
  say("\nsockdiag-demo: done.\n");
  return 0;
}
