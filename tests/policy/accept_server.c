// A legacy server that treats any accept failure as fatal. It serves "ping"
// -> "pong" to SERVE clients, one at a time; a client thread connects
// SERVE + 1 times in a row, since one connection may be aborted before
// accept (by the test stub, stub_econnaborted.c).
// Prints "accept: -1 ERRNAME" and exits 1 at the first failed accept; else
// "served: N" and exits 0. The client prints "client N: pong" or its error.
// Usage: accept_server accept|accept4
#include <pthread.h>

#include "testutil.h"

#define SERVE 2

static int listen_port;

static void* clients(void* arg) {
  (void)arg;
  for (int i = 1; i <= SERVE + 1; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len = loopback(AF_INET, listen_port, &ss);
    char buf[8] = {0};
    long r = connect(fd, (struct sockaddr*)&ss, len);
    if (r == 0) r = send(fd, "ping", 4, MSG_NOSIGNAL);
    if (r == 4) r = recv(fd, buf, 4, 0);
    if (r == 4) printf("client %d: %s\n", i, buf);
    else printf("client %d: %ld %s\n", i, r, r < 0 ? errname(errno) : "EOF");
    fflush(stdout);
    close(fd);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "accept") != 0 && strcmp(argv[1], "accept4") != 0)) {
    fprintf(stderr, "usage: %s accept|accept4\n", argc > 0 ? argv[0] : "accept_server");
    return 2;
  }
  int use4 = strcmp(argv[1], "accept4") == 0;
  int lfd = listener(AF_INET, 8, &listen_port);
  pthread_t t;
  if (pthread_create(&t, NULL, clients, NULL) != 0) die("pthread_create");
  int served = 0;
  while (served < SERVE) {
    int fd = use4 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : accept(lfd, NULL, NULL);
    if (fd < 0) {
      report(argv[1], fd, errno);
      return 1;
    }
    char buf[4];
    if (recv(fd, buf, sizeof(buf), MSG_WAITALL) == 4 && memcmp(buf, "ping", 4) == 0) {
      send(fd, "pong", 4, MSG_NOSIGNAL);
      ++served;
    }
    close(fd);
  }
  // A client that was not aborted is refused now instead of waiting.
  close(lfd);
  pthread_join(t, NULL);
  printf("served: %d\n", served);
  return 0;
}
