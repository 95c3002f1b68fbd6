// A legacy program that makes one attempt on its socket and gives up at the
// first EAGAIN. The peer acts 200 ms later (sends, connects, or drains) or
// never. Prints "CALL: RET ERRNAME", "elapsed_ms: N" and, after a read,
// "data: ...". Exit 0 when the call succeeded, 1 when it failed.
// Usage: eagain_giveup MODE
//   recv-late      non-blocking socket, recv; the peer sends 200 ms later
//   read-late      the same with read()
//   recv-never     non-blocking socket, recv; the peer never sends
//   recv-dontwait  blocking socket, recv(MSG_DONTWAIT); the peer sends 200 ms later
//   recv-rcvtimeo  blocking socket with SO_RCVTIMEO 50 ms; the peer sends 200 ms later
//   accept-late    non-blocking listener, accept; a client connects 200 ms later
//   send-late      non-blocking socket with a full send buffer, send; the peer drains 200 ms later
//   pipe-late      non-blocking pipe (not a socket), read; written to 200 ms later
#include <fcntl.h>

#include "storm.h"

static void set_nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) die("fcntl");
}

static int done(const char* call, long ret, int err, double t0) {
  double elapsed = mono_ms() - t0;
  report(call, ret, err);
  printf("elapsed_ms: %.0f\n", elapsed);
  return ret < 0 ? 1 : 0;
}

static int run_input(const char* mode) {
  int fd;
  tcp_pair(AF_INET, &fd, &peer_fd);
  int flags = 0;
  const char* call = "recv";
  if (strcmp(mode, "recv-dontwait") == 0) {
    flags = MSG_DONTWAIT;
  } else if (strcmp(mode, "recv-rcvtimeo") == 0) {
    struct timeval tv = {0, 50000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("setsockopt");
  } else {
    set_nonblocking(fd);
    if (strcmp(mode, "read-late") == 0) call = "read";
  }
  pthread_t t;
  int late = strcmp(mode, "recv-never") != 0;
  if (late) t = start_helper(send_late, NULL);
  char buf[64];
  double t0 = mono_ms();
  ssize_t r = strcmp(call, "read") == 0 ? read(fd, buf, sizeof(buf)) : recv(fd, buf, sizeof(buf), flags);
  int rc = done(call, r, errno, t0);
  if (r > 0) printf("data: %.*s\n", (int)r, buf);
  if (late) pthread_join(t, NULL);
  return rc;
}

static int run_accept(void) {
  int lfd = listener(AF_INET, 8, &listen_port);
  set_nonblocking(lfd);
  pthread_t t = start_helper(connect_late, NULL);
  double t0 = mono_ms();
  int r = accept(lfd, NULL, NULL);
  int rc = done("accept", r, errno, t0);
  if (r < 0) {
    // Take the helper's connection all the same, so that it is not left waiting.
    if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK) != 0) die("fcntl");
    r = accept(lfd, NULL, NULL);
  }
  close(r);
  pthread_join(t, NULL);
  return rc;
}

static int run_pipe(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
  peer_fd = p[1];
  pthread_t t = start_helper(write_late, (void*)200);
  char buf[8];
  double t0 = mono_ms();
  ssize_t r = read(p[0], buf, sizeof(buf));
  int rc = done("read", r, errno, t0);
  pthread_join(t, NULL);
  return rc;
}

static int run_send(void) {
  int fd;
  tcp_pair(AF_INET, &fd, &peer_fd);
  set_nonblocking(fd);
  fill_connection(fd);
  pthread_t t = start_helper(drain_late, NULL);
  double t0 = mono_ms();
  ssize_t r = send(fd, "x", 1, 0);
  int rc = done("send", r, errno, t0);
  shutdown(fd, SHUT_WR);
  pthread_join(t, NULL);
  return rc;
}

int main(int argc, char** argv) {
  static const char* const inputs[] = {"recv-late", "read-late", "recv-never", "recv-dontwait", "recv-rcvtimeo"};
  if (argc == 2) {
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); ++i)
      if (strcmp(argv[1], inputs[i]) == 0) return run_input(argv[1]);
    if (strcmp(argv[1], "accept-late") == 0) return run_accept();
    if (strcmp(argv[1], "send-late") == 0) return run_send();
    if (strcmp(argv[1], "pipe-late") == 0) return run_pipe();
  }
  fprintf(stderr,
          "usage: %s recv-late|read-late|recv-never|recv-dontwait|recv-rcvtimeo|accept-late|send-late|pipe-late\n",
          argc > 0 ? argv[0] : "eagain_giveup");
  return 2;
}
