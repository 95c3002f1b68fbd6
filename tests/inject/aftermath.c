// What a program meets AFTER a fault, real or injected: the fault's call,
// then the calls a program makes next on the same socket. Run once with the
// real fault (made here, on loopback, without the library) and once with
// the fault injected by a rule (the driver's), the two outputs must match.
//
//   aftermath SCENARIO real|inject
// One line per call, "STEP ret=N err=NAME" (no ports, no times). Scenarios:
//   refused-again     non-blocking connect refused; poll; connect again
//                     (the error), connect again (a new attempt: EINPROGRESS)
//   refused-soerror   the same, the error read through SO_ERROR first:
//                     the connect again says ECONNABORTED
//   refused-blocking  blocking connect refused; send, getpeername, SO_ERROR
//   failed-nb-soerror, failed-nb-recv
//                     non-blocking connect fails (real: refused; the driver
//                     injects other errors too), its error read by SO_ERROR
//                     or recv; then recv, send, poll, SO_ERROR
//   timeout-nb        non-blocking connect times out (real: a full queue and
//                     the program's TCP_USER_TIMEOUT); connect again, anew;
//                     the program's TCP_USER_TIMEOUT
//   eintr-poll        blocking connect interrupted by a signal (real: a
//                     listener whose queue is full, made room in 300 ms);
//                     then poll, SO_ERROR, getpeername, send, as event loops do
//   eintr-again       the same, then connect again (blocking), and again
//   reset             recv meets a reset; recv, send, getpeername
//   eof               recv meets the end of stream; recv, send
//   shutdown-enotconn shutdown meets a connection the peer reset; recv,
//                     recv, send, SO_ERROR
//   recv-eagain       non-blocking recv: EAGAIN, then the data
//   accept-emfile     accept fails with EMFILE (real: RLIMIT_NOFILE); the
//                     connection waits in the queue for the next accept
//   reuse-close, reuse-dup2, reuse-close_range
//                     recv meets a reset; the number goes to a new socket,
//                     whose connect is really refused; send
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "inject_util.h"

static void step(const char* what, long ret, int err) {
  printf("%s ret=%ld err=%s\n", what, ret, ret < 0 ? errname(err) : "OK");
  fflush(stdout);
}
#define STEP(what, expr)      \
  do {                        \
    long r_ = (long)(expr);   \
    step(what, r_, errno);    \
  } while (0)

static void poll_step(int fd, short events, int ms) {
  struct pollfd p = {fd, events, 0};
  int n = poll(&p, 1, ms);
  printf("poll ret=%d events=%s%s%s%s\n", n, p.revents & POLLIN ? "IN|" : "", p.revents & POLLOUT ? "OUT|" : "",
         p.revents & POLLERR ? "ERR|" : "", p.revents & POLLHUP ? "HUP|" : "");
}

static void so_error_step(int fd) {
  int e = -1;
  socklen_t l = sizeof(e);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0) die("getsockopt");
  printf("so_error err=%s\n", errname(e));
}

static void peername_step(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof(ss);
  STEP("getpeername", getpeername(fd, (struct sockaddr*)&ss, &l));
}

static int tcp_socket(int nonblocking) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  return fd;
}

// real: a port nobody listens on; inject: a listening one (the rule refuses).
static int refusal_target(int real, struct sockaddr_storage* ss, socklen_t* len) {
  int port;
  int holder = real ? bound_socket(AF_INET, 0, &port) : listener(AF_INET, 8, &port);
  *len = loopback(AF_INET, port, ss);
  return holder;
}

static int refused(int real, int mode) {
  struct sockaddr_storage ss;
  socklen_t len;
  int holder = refusal_target(real, &ss, &len);
  int fd = tcp_socket(mode != 2);
  STEP("connect", connect(fd, (struct sockaddr*)&ss, len));
  if (mode == 2) {
    STEP("send", send(fd, "x", 1, MSG_NOSIGNAL));
    peername_step(fd);
    so_error_step(fd);
    return 0;
  }
  poll_step(fd, POLLOUT, 5000);
  if (mode == 1) so_error_step(fd);
  STEP("connect again", connect(fd, (struct sockaddr*)&ss, len));
  so_error_step(fd);
  STEP("connect new attempt", connect(fd, (struct sockaddr*)&ss, len));
  close(fd);
  close(holder);
  return 0;
}

// A non-blocking connect that fails (real: refused), its error met by
// SO_ERROR or by recv, then what the failed socket answers.
static int failed_nb(int real, int by_recv) {
  struct sockaddr_storage ss;
  socklen_t len;
  int holder = refusal_target(real, &ss, &len);
  int fd = tcp_socket(1);
  STEP("connect", connect(fd, (struct sockaddr*)&ss, len));
  poll_step(fd, POLLOUT, 5000);
  char buf[16];
  if (by_recv) STEP("recv", recv(fd, buf, sizeof(buf), 0));
  else so_error_step(fd);
  STEP("recv", recv(fd, buf, sizeof(buf), 0));
  STEP("send", send(fd, "x", 1, MSG_NOSIGNAL));
  poll_step(fd, POLLIN | POLLOUT, 0);
  so_error_step(fd);
  close(fd);
  close(holder);
  return 0;
}

// A non-blocking connect that times out (real: to a listener whose queue
// is full, under the program's own TCP_USER_TIMEOUT of 1500 ms; inject: the
// rule's wait), then a new attempt: the program's TCP_USER_TIMEOUT is its own.
static int timeout_nb(int real) {
  int port;
  int lfd = listener(AF_INET, real ? 0 : 8, &port);
  int filler = real ? connect_to(AF_INET, port) : -1;
  int fd = tcp_socket(1);
  unsigned int mine = 1500, got = 0;
  socklen_t l = sizeof(got);
  if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &mine, sizeof(mine)) != 0) die("setsockopt");
  STEP("connect", connect_loopback(fd, AF_INET, port));
  poll_step(fd, POLLOUT, 10000);
  so_error_step(fd);
  STEP("connect again", connect_loopback(fd, AF_INET, port));
  STEP("connect new attempt", connect_loopback(fd, AF_INET, port));
  if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &got, &l) != 0) die("getsockopt");
  printf("user_timeout %u\n", got);
  close(fd);
  if (filler >= 0) close(filler);
  close(lfd);
  return 0;
}

static int g_listener;
static void on_alarm(int sig) { (void)sig; }

// Room in the full queue 300 ms later: the resent SYN (1 s) is answered.
static void* make_room(void* arg) {
  (void)arg;
  pause_ms(300);
  int first = accept(g_listener, NULL, NULL);
  if (first < 0) die("helper accept");
  return NULL;
}

static int interrupted(int real, int again) {
  int port;
  g_listener = listener(AF_INET, real ? 0 : 8, &port);
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, port, &ss);
  if (real) {
    // The queue full, the connect blocks; a signal without SA_RESTART 100 ms in.
    int filler = connect_to(AF_INET, port);
    (void)filler;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    pthread_t t;
    if (pthread_create(&t, NULL, make_room, NULL) != 0) die("pthread_create");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
  }
  int fd = tcp_socket(0);
  STEP("connect", connect(fd, (struct sockaddr*)&ss, len));
  if (again) {
    STEP("connect again", connect(fd, (struct sockaddr*)&ss, len));
    STEP("connect again", connect(fd, (struct sockaddr*)&ss, len));
  } else {
    poll_step(fd, POLLOUT, 5000);
    so_error_step(fd);
  }
  peername_step(fd);
  STEP("send", send(fd, "x", 1, MSG_NOSIGNAL));
  return 0;
}

static int stream_end(int real, int reset) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  if (real && reset) {
    abort_on_close(server);
    close(server);
  } else if (real) {
    shutdown(server, SHUT_WR);
  }
  pause_ms(50);
  char buf[16];
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  STEP("send", send(client, "x", 1, MSG_NOSIGNAL));
  if (reset) peername_step(client);
  return 0;
}

// The client end of a connection whose peer has reset it (real: the peer
// closes with SO_LINGER 0, and the RST has time to arrive); inject: left open.
static int reset_client(int real) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  if (real) {
    abort_on_close(server);
    close(server);
  }
  pause_ms(50);
  return client;
}

// shutdown fails with ENOTCONN: the peer has reset the connection
// (real: it closes with SO_LINGER 0); then recv, recv, send.
static int shutdown_enotconn(int real) {
  int client = reset_client(real);
  STEP("shutdown", shutdown(client, SHUT_WR));
  char buf[16];
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  STEP("send", send(client, "x", 1, MSG_NOSIGNAL));
  so_error_step(client);
  return 0;
}

static int recv_eagain(int real) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
  // inject: the data is there; the rule says EAGAIN all the same.
  if (!real && send(server, "data", 4, 0) != 4) die("send");
  char buf[16];
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  if (real && send(server, "data", 4, 0) != 4) die("send");
  poll_step(client, POLLIN, 5000);
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  return 0;
}

static int accept_emfile(int real) {
  int port;
  int lfd = listener(AF_INET, 8, &port);
  int client = connect_to(AF_INET, port);
  struct rlimit old;
  if (getrlimit(RLIMIT_NOFILE, &old) != 0) die("getrlimit");
  if (real) {
    // No number left below the limit for the accepted socket.
    int probe = dup(0);
    if (probe < 0) die("dup");
    close(probe);
    struct rlimit low = {(rlim_t)probe, old.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) die("setrlimit");
  }
  STEP("accept", accept(lfd, NULL, NULL));
  if (real && setrlimit(RLIMIT_NOFILE, &old) != 0) die("setrlimit");
  poll_step(lfd, POLLIN, 5000);
  int a = accept(lfd, NULL, NULL);
  step("accept", a < 0 ? -1 : 0, errno);
  STEP("send", send(client, "x", 1, MSG_NOSIGNAL));
  char c;
  STEP("recv", a < 0 ? -1 : recv(a, &c, 1, 0));
  return 0;
}

// After a reset, the number is given to a new socket (close then socket,
// dup2 onto it, close_range then socket), whose connect is really refused:
// what happens to the new socket is its own.
static int reuse(int real, const char* how) {
  int client = reset_client(real);
  char buf[16];
  STEP("recv", recv(client, buf, sizeof(buf), 0));
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  int fd;
  if (strcmp(how, "dup2") == 0) {
    int fresh = tcp_socket(0);
    if (dup2(fresh, client) != client) die("dup2");
    close(fresh);
    fd = client;
  } else {
    if (strcmp(how, "close") == 0) close(client);
    else if (close_range((unsigned)client, (unsigned)client, 0) != 0) die("close_range");
    fd = tcp_socket(0);
  }
  printf("same number: %s\n", fd == client ? "yes" : "no");
  STEP("connect", connect_loopback(fd, AF_INET, port));
  STEP("send", send(fd, "x", 1, MSG_NOSIGNAL));
  close(holder);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[2], "real") != 0 && strcmp(argv[2], "inject") != 0)) {
    fprintf(stderr, "usage: aftermath SCENARIO real|inject\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* s = argv[1];
  int real = strcmp(argv[2], "real") == 0;
  if (strcmp(s, "refused-again") == 0) return refused(real, 0);
  if (strcmp(s, "refused-soerror") == 0) return refused(real, 1);
  if (strcmp(s, "refused-blocking") == 0) return refused(real, 2);
  if (strcmp(s, "failed-nb-soerror") == 0) return failed_nb(real, 0);
  if (strcmp(s, "failed-nb-recv") == 0) return failed_nb(real, 1);
  if (strcmp(s, "timeout-nb") == 0) return timeout_nb(real);
  if (strcmp(s, "eintr-poll") == 0) return interrupted(real, 0);
  if (strcmp(s, "eintr-again") == 0) return interrupted(real, 1);
  if (strcmp(s, "reset") == 0) return stream_end(real, 1);
  if (strcmp(s, "eof") == 0) return stream_end(real, 0);
  if (strcmp(s, "recv-eagain") == 0) return recv_eagain(real);
  if (strcmp(s, "shutdown-enotconn") == 0) return shutdown_enotconn(real);
  if (strcmp(s, "accept-emfile") == 0) return accept_emfile(real);
  if (strncmp(s, "reuse-", 6) == 0) return reuse(real, s + 6);
  fprintf(stderr, "aftermath: unknown scenario %s\n", s);
  return 2;
}
