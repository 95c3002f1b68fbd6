// Children that share the program's memory (vfork, clone(CLONE_VM)).
//   vm_children vfork   a connection sends 100 bytes; a vfork child closes
//                       the connection's socket (its own copy) and dup2()s
//                       over it, then _exits; the peer then resets the
//                       connection and the parent's recv meets ECONNRESET
//   vm_children plain   the same without the vfork child
//   vm_children clone N a clone(CLONE_VM) child and the parent each make N
//                       refused connects at the same time
#include <sched.h>
#include <sys/wait.h>

#include "testutil.h"

static int g_port;
static int g_count;

static int child_connects(void* arg) {
  (void)arg;
  int refused = 0;
  for (int i = 0; i < g_count; ++i) refused += connect_is_refused(AF_INET, g_port);
  return refused == g_count ? 0 : 1;
}

static int reset_after_send(int with_vfork) {
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  char buf[100] = {0};
  if (send(client, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) die("send");
  if (recv(server, buf, sizeof(buf), MSG_WAITALL) != (ssize_t)sizeof(buf)) die("recv");
  if (with_vfork) {
    pid_t pid = vfork();
    if (pid == 0) {
      close(client);
      dup2(server, client);
      _exit(0);
    }
    if (pid < 0) die("vfork");
    int status;
    waitpid(pid, &status, 0);
  }
  struct linger lg = {1, 0};
  setsockopt(server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(server);
  ssize_t r = recv(client, buf, sizeof(buf), 0);
  report("recv", r, errno);
  close(client);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s vfork|plain|clone N\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "clone") != 0) return reset_after_send(strcmp(argv[1], "vfork") == 0);
  g_count = argc > 2 ? atoi(argv[2]) : 100;
  int holder = bound_socket(AF_INET, 0, &g_port);
  static char stack[256 * 1024];
  pid_t pid = clone(child_connects, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
  if (pid < 0) die("clone");
  int refused = 0;
  for (int i = 0; i < g_count; ++i) refused += connect_is_refused(AF_INET, g_port);
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  printf("parent refused %d\n", refused);
  printf("child %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "refused every connect" : "failed");
  close(holder);
  return 0;
}
