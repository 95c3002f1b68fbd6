// Linked with early_lib, whose constructor runs before libsockdiag's; main
// then makes the same kind of calls once the library is set up.
#include "testutil.h"

int main(void) {
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  printf("main connect refused: %s\n", connect_is_refused(AF_INET, port) ? "yes" : "no");
  close(holder);
  return 0;
}
