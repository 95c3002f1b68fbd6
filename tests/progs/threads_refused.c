// THREADS threads start together; each makes COUNT connects to a loopback
// port nobody listens on (all refused) and, every tenth time, a successful
// ping-pong over a loopback connection of its own. Each thread prints its
// kernel thread id so that the driver can match records to threads.
// Usage: threads_refused THREADS COUNT
#include <pthread.h>
#include <sys/syscall.h>

#include "testutil.h"

static int g_port;
static int g_count;
static pthread_barrier_t g_start;

static void ping_pong(void) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  char buf[4];
  if (send(client, "ping", 4, 0) != 4 || recv(server, buf, 4, MSG_WAITALL) != 4) die("ping");
  if (send(server, "pong", 4, 0) != 4 || recv(client, buf, 4, MSG_WAITALL) != 4) die("pong");
  if (memcmp(buf, "pong", 4) != 0) {
    fprintf(stderr, "ping-pong returned other bytes\n");
    exit(2);
  }
  close(client);
  close(server);
}

static void* worker(void* arg) {
  (void)arg;
  long tid = syscall(SYS_gettid);
  pthread_barrier_wait(&g_start);
  int refused = 0;
  for (int i = 0; i < g_count; ++i) {
    refused += connect_is_refused(AF_INET, g_port);
    if (i % 10 == 0) ping_pong();
  }
  printf("tid %ld refused %d\n", tid, refused);
  fflush(stdout);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s THREADS COUNT\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[1]);
  g_count = atoi(argv[2]);
  int holder = bound_socket(AF_INET, 0, &g_port);
  pthread_t threads[64];
  if (n < 1 || n > 64) return 2;
  pthread_barrier_init(&g_start, NULL, (unsigned)n);
  for (int i = 0; i < n; ++i) pthread_create(&threads[i], NULL, worker, NULL);
  for (int i = 0; i < n; ++i) pthread_join(threads[i], NULL);
  close(holder);
  return 0;
}
