// Threads with the smallest stack a program may ask for (PTHREAD_STACK_MIN),
// each using a good part of it while it makes a connect that is refused (a
// record written on that small stack), in WAVES waves of THREADS threads at
// once: more threads in all than the library's pool of per-thread blocks
// has slots, so blocks of ended threads must be taken over. Prints how many
// threads were created, how many could not be, and the refusals seen.
// Usage: small_stacks WAVES THREADS
#include <limits.h>
#include <pthread.h>

#include "testutil.h"

static int g_port;

static void* worker(void* arg) {
  (void)arg;
  // A third of the stack in use below the call, as a program with small
  // stacks may well have: the library's record must fit in what is left
  // (with glibc's own part of the 16 KiB, about half of it).
  volatile char used[PTHREAD_STACK_MIN / 3];
  memset((char*)used, 1, sizeof(used));
  long refused = connect_is_refused(AF_INET, g_port);
  return (void*)(refused + used[sizeof(used) - 1] - 1);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s WAVES THREADS\n", argv[0]);
    return 2;
  }
  int waves = atoi(argv[1]), n = atoi(argv[2]);
  if (waves < 1 || n < 1 || n > 256) return 2;
  int holder = bound_socket(AF_INET, 0, &g_port);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  int err = pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
  if (err) {
    fprintf(stderr, "pthread_attr_setstacksize: %s\n", strerror(err));
    return 1;
  }
  long created = 0, failed = 0, refused = 0;
  pthread_t threads[256];
  for (int w = 0; w < waves; ++w) {
    int started = 0;
    for (int i = 0; i < n; ++i) {
      err = pthread_create(&threads[started], &attr, worker, NULL);
      if (err) {
        if (!failed) fprintf(stderr, "pthread_create: %s\n", strerror(err));
        ++failed;
        continue;
      }
      ++started;
    }
    for (int i = 0; i < started; ++i) {
      void* r;
      pthread_join(threads[i], &r);
      refused += (long)r;
    }
    created += started;
  }
  close(holder);
  printf("created %ld failed %ld refused %ld\n", created, failed, refused);
  return 0;
}
