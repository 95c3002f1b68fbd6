// Eight threads (or THREADS) hammering the same probabilistic rules at once:
// each makes CALLS setsockopt and CALLS getsockopt calls on a UDP socket of
// its own and counts the failures it sees. The driver compares the totals
// with the library's records and exit summary, which must agree exactly.
//
//   threads_inject THREADS CALLS
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inject_util.h"

struct counts {
  long calls;
  long set_failed;
  long get_failed;
  long other_errors;
};

static pthread_barrier_t g_start;

static void* run(void* arg) {
  struct counts* c = arg;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  // All threads start together, so that they really contend.
  pthread_barrier_wait(&g_start);
  for (long i = 0; i < c->calls; ++i) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0) {
      if (errno == ENOBUFS) ++c->set_failed;
      else ++c->other_errors;
    }
    int v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) {
      if (errno == ENOPROTOOPT) ++c->get_failed;
      else ++c->other_errors;
    }
  }
  close(fd);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: threads_inject THREADS CALLS\n");
    return 2;
  }
  int n = atoi(argv[1]);
  long calls = atol(argv[2]);
  if (n < 1 || n > 64) {
    fprintf(stderr, "THREADS must be 1 to 64\n");
    return 2;
  }
  pthread_t t[64];
  struct counts c[64];
  memset(c, 0, sizeof(c));
  pthread_barrier_init(&g_start, NULL, (unsigned)n);
  for (int i = 0; i < n; ++i) {
    c[i].calls = calls;
    if (pthread_create(&t[i], NULL, run, &c[i]) != 0) die("pthread_create");
  }
  long set_failed = 0, get_failed = 0, other = 0;
  for (int i = 0; i < n; ++i) {
    pthread_join(t[i], NULL);
    set_failed += c[i].set_failed;
    get_failed += c[i].get_failed;
    other += c[i].other_errors;
  }
  printf("setsockopt_failed=%ld getsockopt_failed=%ld other_errors=%ld\n", set_failed, get_failed, other);
  return 0;
}
