// A process tree that makes refused connects: the parent starts a thread
// that keeps failing (so the library is busy writing records when the
// parent forks), forks CHILDREN children that each make COUNT refused
// connects, and makes COUNT itself. The background thread also makes COUNT.
// Every process prints its pid.
// Usage: fork_refused CHILDREN COUNT
#include <pthread.h>
#include <sys/wait.h>

#include "testutil.h"

static int g_port;
static int g_count;

static void refuse_many(int n) {
  for (int i = 0; i < n; ++i) {
    if (!connect_is_refused(AF_INET, g_port)) {
      fprintf(stderr, "connect was not refused\n");
      exit(2);
    }
  }
}

static void* background(void* arg) {
  (void)arg;
  refuse_many(g_count);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CHILDREN COUNT\n", argv[0]);
    return 2;
  }
  int children = atoi(argv[1]);
  g_count = atoi(argv[2]);
  int holder = bound_socket(AF_INET, 0, &g_port);
  printf("parent %ld\n", (long)getpid());
  fflush(stdout);
  pthread_t bg;
  pthread_create(&bg, NULL, background, NULL);
  for (int i = 0; i < children; ++i) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      printf("child %ld\n", (long)getpid());
      fflush(stdout);
      refuse_many(g_count);
      _exit(0);
    }
  }
  refuse_many(g_count);
  pthread_join(bg, NULL);
  int failed = 0;
  for (int i = 0; i < children; ++i) {
    int status;
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  printf("children failed: %d\n", failed);
  close(holder);
  return failed ? 1 : 0;
}
