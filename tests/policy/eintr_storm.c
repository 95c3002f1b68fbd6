// One blocking call made under a 1 kHz SIGALRM storm (storm.h): a legacy
// program that treats EINTR as fatal. Prints "CALL: RET ERRNAME", "signals: N"
// (signals caught during the call) and "elapsed_ms: N". Exit 0 when the call
// succeeded, 1 when it failed.
// Usage: eintr_storm MODE
//   recv, send, accept  the peer answers, drains, or connects ~200 ms later
//   connect             the listener's accept queue is full: ~1 s
//   connect-refused     the same, but the listener is closed after 200 ms:
//                       the resent SYN is refused
//   connect-unix        an AF_UNIX listener's queue is full: the connect
//                       waits for room, made ~200 ms later
//   connect-unix-full   the same, but no room is ever made
//   poll ppoll select pselect epoll_wait epoll_pwait
//                       nothing happens within the 300 ms timeout
//   WAIT-slow           the same wait with a 1000 ms timeout; the first
//                       handler run takes 1100 ms, so the wait must end as
//                       soon as the handler returns
//   recv-rcvtimeo       the program's SO_RCVTIMEO (100 ms) expires, nothing comes
//   recv-waitall        recv(MSG_WAITALL) of 8 bytes: 4 at once, 4 more ~200 ms later
//   pipe-read           read() on a pipe (not a socket); written to ~500 ms later
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/un.h>

#include "storm.h"

#define WAIT_MS 300
// WAIT-slow: a handler longer than the timeout, both long enough that a
// loaded machine's delays stay well inside the margins the driver checks.
#define SLOW_WAIT_MS 1000
#define SLOW_HANDLER_MS 1100

static char connected_byte;

// Frees the full accept queue (connect mode), then takes the connection the
// program was making and reads what it sends.
static void* accept_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  int first = accept(peer_fd, NULL, NULL);
  if (first < 0) die("helper accept");
  int second = accept(peer_fd, NULL, NULL);
  if (second < 0) die("helper accept");
  if (recv(second, &connected_byte, 1, 0) != 1) connected_byte = '?';
  close(second);
  close(first);
  return NULL;
}

static double started_ms;

static int finish(const char* call, long ret, int err, int start_signals) {
  double elapsed = mono_ms() - started_ms;
  int caught = storm_signals - start_signals;
  report(call, ret, err);
  printf("signals: %d\n", caught);
  printf("elapsed_ms: %.0f\n", elapsed);
  return ret < 0 ? 1 : 0;
}

// The storm starts after everything else is set up.
static int begin(void) {
  int s0 = storm_signals;
  started_ms = mono_ms();
  storm_start();
  return s0;
}

static int run_recv(void) {
  int client;
  tcp_pair(AF_INET, &client, &peer_fd);
  pthread_t t = start_helper(send_late, NULL);
  char buf[64];
  int s0 = begin();
  ssize_t r = recv(client, buf, sizeof(buf), 0);
  int err = errno;
  storm_stop();
  int rc = finish("recv", r, err, s0);
  if (r > 0) printf("data: %.*s\n", (int)r, buf);
  if (r < 0) return rc;
  pthread_join(t, NULL);
  return rc;
}

static int run_send(void) {
  int client;
  tcp_pair(AF_INET, &client, &peer_fd);
  // Fill the connection until a send would block, then block on one byte.
  fill_connection(client);
  pthread_t t = start_helper(drain_late, NULL);
  int s0 = begin();
  ssize_t r = send(client, "x", 1, 0);
  int err = errno;
  storm_stop();
  int rc = finish("send", r, err, s0);
  if (r < 0) return rc;
  shutdown(client, SHUT_WR);
  pthread_join(t, NULL);
  return rc;
}

static int run_accept(void) {
  int lfd = listener(AF_INET, 8, &listen_port);
  pthread_t t = start_helper(connect_late, NULL);
  int s0 = begin();
  int r = accept(lfd, NULL, NULL);
  int err = errno;
  storm_stop();
  int rc = finish("accept", r, err, s0);
  if (r < 0) return rc;
  close(r);
  pthread_join(t, NULL);
  return rc;
}

static void* close_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  close(peer_fd);
  return NULL;
}

static int run_connect(int refused) {
  // listen(fd, 0) takes one connection into the accept queue; with it full,
  // Linux drops the next SYN and the client resends it after its initial
  // 1 s retransmission timeout: a loopback connect that blocks ~1 s.
  int port;
  peer_fd = listener(AF_INET, 0, &port);
  int filler = connect_to(AF_INET, port);
  pthread_t t = start_helper(refused ? close_late : accept_late, NULL);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, port, &ss);
  int s0 = begin();
  int r = connect(fd, (struct sockaddr*)&ss, len);
  int err = errno;
  storm_stop();
  int rc = finish("connect", r, err, s0);
  // What the connect left behind: connected (getpeername says so, a
  // connect again is EISCONN), or ready for a new attempt.
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  REPORT("getpeername", getpeername(fd, (struct sockaddr*)&peer, &peer_len));
  REPORT("connect again", connect(fd, (struct sockaddr*)&ss, len));
  if (r < 0) return rc;
  if (send(fd, "x", 1, 0) != 1) die("send");
  pthread_join(t, NULL);
  printf("peer got: %c\n", connected_byte);
  close(fd);
  close(filler);
  return rc;
}

// accept_late for the unix listener: the program's connection may never
// come (its connect failed), so the second accept waits 3 s at most.
static void* accept_unix_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  int first = accept(peer_fd, NULL, NULL);
  if (first < 0) die("helper accept");
  struct pollfd p = {peer_fd, POLLIN, 0};
  connected_byte = '-';
  if (poll(&p, 1, 3000) == 1) {
    int second = accept(peer_fd, NULL, NULL);
    if (second < 0) die("helper accept");
    if (recv(second, &connected_byte, 1, 0) != 1) connected_byte = '?';
    close(second);
  }
  close(first);
  return NULL;
}

// An AF_UNIX listener with backlog 0 and one connection in its queue: a
// blocking connect waits for room (unix_stream_connect), and a signal ends
// the wait with EINTR and nothing connected. With `accepting`, a helper
// makes room ~200 ms later and takes the program's connection.
static int run_connect_unix(int accepting) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/sd-eintr-unix-%d", (int)getpid());
  unlink(addr.sun_path);
  peer_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (peer_fd < 0 || bind(peer_fd, (struct sockaddr*)&addr, sizeof(addr)) != 0 || listen(peer_fd, 0) != 0)
    die("unix listener");
  int filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (filler < 0 || connect(filler, (struct sockaddr*)&addr, sizeof(addr)) != 0) die("unix filler");
  pthread_t t;
  if (accepting) t = start_helper(accept_unix_late, NULL);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int s0 = begin();
  int r = connect(fd, (struct sockaddr*)&addr, sizeof(addr));
  int err = errno;
  storm_stop();
  int rc = finish("connect", r, err, s0);
  unlink(addr.sun_path);
  struct sockaddr_un peer;
  socklen_t peer_len = sizeof(peer);
  REPORT("getpeername", getpeername(fd, (struct sockaddr*)&peer, &peer_len));
  if (accepting) {
    if (r == 0) REPORT("send", send(fd, "x", 1, MSG_NOSIGNAL));
    pthread_join(t, NULL);
    printf("peer got: %c\n", connected_byte);
  }
  close(fd);
  close(filler);
  return rc;
}

static int run_recv_rcvtimeo(void) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  struct timeval tv = {0, 100000};
  if (setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("setsockopt");
  char buf[8];
  int s0 = begin();
  ssize_t r = recv(client, buf, sizeof(buf), 0);
  int err = errno;
  storm_stop();
  return finish("recv", r, err, s0);
}

static int run_recv_waitall(void) {
  int client;
  tcp_pair(AF_INET, &client, &peer_fd);
  if (send(peer_fd, "half", 4, 0) != 4) die("send");
  pthread_t t = start_helper(send_late, NULL);
  char buf[8];
  int s0 = begin();
  ssize_t r = recv(client, buf, sizeof(buf), MSG_WAITALL);
  int err = errno;
  storm_stop();
  int rc = finish("recv", r, err, s0);
  if (r > 0) printf("data: %.*s\n", (int)r, buf);
  pthread_join(t, NULL);
  return rc;
}

static int run_pipe_read(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) die("pipe");
  peer_fd = p[1];
  pthread_t t = start_helper(write_late, (void*)500);
  char buf[8];
  int s0 = begin();
  ssize_t r = read(p[0], buf, sizeof(buf));
  int err = errno;
  storm_stop();
  int rc = finish("read", r, err, s0);
  pthread_join(t, NULL);
  return rc;
}

// A wait with no event in sight: it must end after `wait_ms`, counted from
// the call, however many signals come in between.
static int run_wait(const char* call, int wait_ms) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = client};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, client, &ev) != 0) die("epoll_ctl");
  struct pollfd pfd = {client, POLLIN, 0};
  struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
  struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000L};
  fd_set rset;
  FD_ZERO(&rset);
  FD_SET(client, &rset);
  int s0 = begin();
  int r;
  if (strcmp(call, "poll") == 0) r = poll(&pfd, 1, wait_ms);
  else if (strcmp(call, "ppoll") == 0) r = ppoll(&pfd, 1, &ts, NULL);
  else if (strcmp(call, "select") == 0) r = select(client + 1, &rset, NULL, NULL, &tv);
  else if (strcmp(call, "pselect") == 0) r = pselect(client + 1, &rset, NULL, NULL, &ts, NULL);
  else if (strcmp(call, "epoll_wait") == 0) r = epoll_wait(ep, &ev, 1, wait_ms);
  else r = epoll_pwait(ep, &ev, 1, wait_ms, NULL);
  int err = errno;
  storm_stop();
  return finish(call, r, err, s0);
}

int main(int argc, char** argv) {
  static const char* const waits[] = {"poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait"};
  const char* mode = argc == 2 ? argv[1] : "";
  for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); ++i) {
    size_t n = strlen(waits[i]);
    if (strncmp(mode, waits[i], n) != 0) continue;
    if (mode[n] == '\0' || strcmp(mode + n, "-slow") == 0) {
      storm_install(mode[n] ? SLOW_HANDLER_MS : 0);
      return run_wait(waits[i], mode[n] ? SLOW_WAIT_MS : WAIT_MS);
    }
  }
  storm_install(0);
  if (strcmp(mode, "recv") == 0) return run_recv();
  if (strcmp(mode, "send") == 0) return run_send();
  if (strcmp(mode, "accept") == 0) return run_accept();
  if (strcmp(mode, "connect") == 0) return run_connect(0);
  if (strcmp(mode, "connect-refused") == 0) return run_connect(1);
  if (strcmp(mode, "connect-unix") == 0) return run_connect_unix(1);
  if (strcmp(mode, "connect-unix-full") == 0) return run_connect_unix(0);
  if (strcmp(mode, "recv-rcvtimeo") == 0) return run_recv_rcvtimeo();
  if (strcmp(mode, "recv-waitall") == 0) return run_recv_waitall();
  if (strcmp(mode, "pipe-read") == 0) return run_pipe_read();
  fprintf(stderr,
          "usage: %s recv|send|accept|connect|connect-refused|connect-unix|connect-unix-full|recv-rcvtimeo|recv-waitall|pipe-read|WAIT|WAIT-slow\n"
          "  WAIT: poll, ppoll, select, pselect, epoll_wait, epoll_pwait\n",
          argc > 0 ? argv[0] : "eintr_storm");
  return 2;
}
