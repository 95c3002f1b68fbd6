// Built with -O2 -D_FORTIFY_SOURCE=2: recv and read into a fixed-size array
// with a length the compiler cannot prove to fit, so the program really
// calls __recv_chk and __read_chk (the driver checks with nm). Each call
// meets a connection reset by its peer (SO_LINGER {1,0}).
// Usage: fortified_io LENGTH   (LENGTH <= 64)
#include "testutil.h"

static void reset_by_peer(int* client) {
  int server;
  tcp_pair(AF_INET, client, &server);
  if (send(*client, "unread", 6, 0) != 6) die("send");
  abort_on_close(server);
  close(server);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LENGTH\n", argv[0]);
    return 2;
  }
  size_t n = (size_t)atoi(argv[1]);
  char buf[64];
  int fd;
  reset_by_peer(&fd);
  REPORT("recv", recv(fd, buf, n, 0));
  close(fd);
  reset_by_peer(&fd);
  REPORT("read", read(fd, buf, n));
  close(fd);
  return 0;
}
