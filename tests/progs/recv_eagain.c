// recv on a connected loopback socket that has nothing to read.
//   nonblock  O_NONBLOCK socket: EAGAIN at once (expected flow)
//   rcvtimeo  blocking socket with SO_RCVTIMEO 100 ms: EAGAIN when the
//             program's own timeout expires
// Usage: recv_eagain nonblock|rcvtimeo
#include <fcntl.h>
#include <sys/time.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s nonblock|rcvtimeo\n", argv[0]);
    return 2;
  }
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  if (strcmp(argv[1], "nonblock") == 0) {
    if (fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) != 0) die("fcntl");
  } else if (strcmp(argv[1], "rcvtimeo") == 0) {
    struct timeval tv = {0, 100000};
    if (setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("setsockopt");
  } else {
    fprintf(stderr, "unknown mode '%s'\n", argv[1]);
    return 2;
  }
  char buf[64];
  REPORT("recv", recv(client, buf, sizeof(buf), 0));
  close(client);
  close(server);
  return 0;
}
