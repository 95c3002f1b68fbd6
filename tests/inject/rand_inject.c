// The program's own random numbers next to probabilistic injection: seeds
// rand() and random(), then alternates socket calls that rules may fail with
// draws, and prints only the draws. The library draws from its own
// generator, so these lines must not change whatever rules are in force.
//
//   rand_inject K
#include <sys/socket.h>
#include <unistd.h>

#include "inject_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: rand_inject K\n");
    return 2;
  }
  long k = atol(argv[1]);
  srand(12345);
  srandom(54321);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  long failed = 0;
  for (long i = 0; i < k; ++i) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0) ++failed;
    int v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) ++failed;
    printf("draw %ld rand=%d random=%ld\n", i, rand(), random());
  }
  // On stderr: the driver checks that the rules did fail some calls.
  fprintf(stderr, "failed=%ld\n", failed);
  close(fd);
  return 0;
}
