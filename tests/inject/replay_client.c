// A client of several connections for the replay cases: connection i (from
// 1 to COUNT) connects to HOST:PORT, reads IN bytes in reads of at most 100,
// then sends SENDS messages of 50 bytes, and closes. A failure ends that
// connection only. One line per connection says what it met, so that two
// runs are compared by their output.
//   replay_client HOST PORT COUNT IN SENDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inject_util.h"

static int one_connection(const struct sockaddr_in* to, int i, long in, long sends) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return perror("socket"), 1;
  printf("conn %d:", i);
  if (connect(fd, (const struct sockaddr*)to, sizeof(*to)) != 0) {
    printf(" connect=%s\n", strerrorname_np(errno));
    close(fd);
    return 0;
  }
  unsigned char buf[100];
  long got = 0;
  while (got < in) {
    ssize_t n = recv(fd, buf, (size_t)(in - got < 100 ? in - got : 100), 0);
    if (n <= 0) {
      printf(" recv=%s after %ld", n == 0 ? "EOF" : strerrorname_np(errno), got);
      break;
    }
    got += n;
  }
  if (got == in) printf(" recv=%ld", got);
  long sent = 0;
  for (; got == in && sent < sends; ++sent) {
    pattern_fill(buf, 50, (uint64_t)sent * 50);
    if (send(fd, buf, 50, MSG_NOSIGNAL) != 50) {
      printf(" send=%s after %ld", strerrorname_np(errno), sent);
      break;
    }
  }
  if (got == in && sent == sends) printf(" send=%ld", sent);
  printf("\n");
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: replay_client HOST PORT COUNT IN SENDS\n");
    return 2;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return fprintf(stderr, "bad host %s\n", argv[1]), 2;
  int count = atoi(argv[3]);
  long in = atol(argv[4]), sends = atol(argv[5]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i <= count; ++i)
    if (one_connection(&to, i, in, sends)) return 1;
  return 0;
}
