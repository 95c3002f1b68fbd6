// A loopback TCP connection whose server end goes away, and what the
// client's next calls return. Both ends live in this one process.
//   reset    the client sends data the server never reads; the server
//            closes with SO_LINGER {1,0} (RST); the client's recv fails
//   reset-read  as reset, then the client reads again: 0, after the reset
//   orderly  the server closes normally (FIN); the client's recv returns 0,
//            twice (the end of the stream is seen again on every read)
//   epipe    the server closes normally; the client keeps sending until a
//            send fails (the server's RST turns the next send into EPIPE),
//            then writes once more with write(2). SIGPIPE is ignored by
//            the program itself.
//   shut-read  the server stays open; the client shuts its own socket down
//            for reading, then reads: 0, the client's own doing
//   shut-write  the server stays open; the client shuts its own socket down
//            for writing, then sends: EPIPE, its own doing (SIGPIPE ignored)
// Usage: peer_close reset|reset-read|orderly|epipe|shut-read|shut-write
#include <signal.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s reset|reset-read|orderly|epipe|shut-read|shut-write\n", argv[0]);
    return 2;
  }
  const char* mode = argv[1];
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  printf("port: %d\n", port_of(server));
  char buf[256];
  if (strncmp(mode, "reset", 5) == 0) {
    REPORT("send", send(client, "unread by the server", 20, 0));
    abort_on_close(server);
    close(server);
    REPORT("recv", recv(client, buf, sizeof(buf), 0));
    if (strcmp(mode, "reset-read") == 0) REPORT("recv", recv(client, buf, sizeof(buf), 0));
  } else if (strcmp(mode, "shut-read") == 0) {
    REPORT("shutdown", shutdown(client, SHUT_RD));
    REPORT("recv", recv(client, buf, sizeof(buf), 0));
  } else if (strcmp(mode, "shut-write") == 0) {
    signal(SIGPIPE, SIG_IGN);
    REPORT("shutdown", shutdown(client, SHUT_WR));
    REPORT("send", send(client, "late", 4, 0));
  } else if (strcmp(mode, "orderly") == 0) {
    close(server);
    REPORT("recv", recv(client, buf, sizeof(buf), 0));
    REPORT("recv", recv(client, buf, sizeof(buf), 0));
  } else if (strcmp(mode, "epipe") == 0) {
    signal(SIGPIPE, SIG_IGN);
    close(server);
    ssize_t r;
    int sent = 0;
    // The first sends succeed: the RST that answers them arrives afterwards.
    while ((r = send(client, "x", 1, 0)) == 1 && sent < 1000) ++sent;
    int err = errno;
    printf("sends before failure: %s\n", sent > 0 ? "some" : "none");
    errno = err;
    REPORT("send", r);
    REPORT("write", write(client, "y", 1));
  } else {
    fprintf(stderr, "unknown mode '%s'\n", mode);
    return 2;
  }
  close(client);
  return 0;
}
