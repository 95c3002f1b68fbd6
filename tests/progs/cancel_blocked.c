// A thread blocked in recv (or accept) is cancelled with pthread_cancel;
// the main thread waits until the thread really sleeps in the call (its
// /proc state is 'S' after it announced the call), cancels it and joins.
// Usage: cancel_blocked recv|accept
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "testutil.h"

static int g_fd;
static int g_accept;
static atomic_long g_tid;

static void* blocked(void* arg) {
  (void)arg;
  char buf[64];
  atomic_store(&g_tid, syscall(SYS_gettid));
  if (g_accept) accept(g_fd, NULL, NULL);
  else recv(g_fd, buf, sizeof(buf), 0);
  printf("the blocking call returned\n");
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2 || (strcmp(argv[1], "recv") != 0 && strcmp(argv[1], "accept") != 0)) {
    fprintf(stderr, "usage: %s recv|accept\n", argv[0]);
    return 2;
  }
  g_accept = strcmp(argv[1], "accept") == 0;
  int client = -1, server = -1, port;
  if (g_accept) g_fd = bound_socket(AF_INET, 1, &port);
  else {
    tcp_pair(AF_INET, &client, &server);
    g_fd = client;
  }
  pthread_t t;
  pthread_create(&t, NULL, blocked, NULL);
  long tid;
  while ((tid = atomic_load(&g_tid)) == 0 || thread_state(tid) != 'S') usleep(1000);
  printf("cancel: %s\n", pthread_cancel(t) == 0 ? "OK" : "failed");
  void* ret = NULL;
  int j = pthread_join(t, &ret);
  printf("join: %s, %s\n", j == 0 ? "OK" : "failed", ret == PTHREAD_CANCELED ? "canceled" : "not canceled");
  close(g_fd);
  if (server >= 0) close(server);
  return 0;
}
