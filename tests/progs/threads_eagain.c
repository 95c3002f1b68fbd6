// Threads of an event-loop server draining their sockets to EAGAIN, for the
// per-thread counters of the summaries:
//   threads_eagain THREADS CALLS WAVES
// WAVES waves of THREADS threads, one after the other (a wave's threads have
// exited before the next starts, which counts where they counted). Each
// thread, on sockets of its own: CALLS recv on an idle non-blocking TCP
// connection (EAGAIN), one accept4 on an idle non-blocking listener
// (EAGAIN) and one non-blocking connect to it (EINPROGRESS, or 0). Then the
// main thread forks a child that does the same with one wave of one thread
// and of its own main thread, and waits for it.
// Prints, for itself and for the child, what its calls returned:
//   PID recv_eagain=N accept_eagain=N connect_einprogress=N
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#include "testutil.h"

static long g_calls;
static long g_recv_eagain, g_accept_eagain, g_connect_einprogress;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void nonblocking(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) die("fcntl O_NONBLOCK");
}

static void* drain(void* unused) {
  (void)unused;
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  nonblocking(client);
  char buf[64];
  long recv_eagain = 0, accept_eagain = 0, connect_einprogress = 0;
  for (long i = 0; i < g_calls; i++) {
    if (recv(client, buf, sizeof(buf), 0) >= 0) die("recv on an idle connection returned data");
    if (errno != EAGAIN) die("recv on an idle non-blocking connection");
    recv_eagain++;
  }
  int port;
  int lfd = listener(AF_INET, 4, &port);
  nonblocking(lfd);
  if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) >= 0 || errno != EAGAIN) die("accept4 on an idle listener");
  accept_eagain++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  if (connect_loopback(fd, AF_INET, port) != 0) {
    if (errno != EINPROGRESS) die("non-blocking connect to the listener");
    connect_einprogress++;
  }
  close(fd);
  close(lfd);
  close(client);
  close(server);
  pthread_mutex_lock(&g_lock);
  g_recv_eagain += recv_eagain;
  g_accept_eagain += accept_eagain;
  g_connect_einprogress += connect_einprogress;
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

static void waves(long threads, long count) {
  pthread_t tid[threads];
  for (long w = 0; w < count; w++) {
    for (long t = 0; t < threads; t++)
      if ((errno = pthread_create(&tid[t], NULL, drain, NULL))) die("pthread_create");
    for (long t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  }
}

static void say(void) {
  printf("%ld recv_eagain=%ld accept_eagain=%ld connect_einprogress=%ld\n", (long)getpid(), g_recv_eagain,
         g_accept_eagain, g_connect_einprogress);
  fflush(stdout);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s THREADS CALLS WAVES\n", argv[0]);
    return 2;
  }
  long threads = atol(argv[1]), waves_count = atol(argv[3]);
  g_calls = atol(argv[2]);
  if (threads < 1 || threads > 64 || g_calls < 0 || waves_count < 1) {
    fprintf(stderr, "THREADS 1 to 64, CALLS 0 or more, WAVES 1 or more\n");
    return 2;
  }
  drain(NULL);  // the main thread counts too
  waves(threads, waves_count);
  say();
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    g_recv_eagain = g_accept_eagain = g_connect_einprogress = 0;
    drain(NULL);
    waves(1, 1);
    say();
    return 0;
  }
  int status;
  if (waitpid(child, &status, 0) != child) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "the child ended with status %d\n", status);
    return 1;
  }
  return 0;
}
