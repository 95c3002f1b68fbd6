// getaddrinfo of one name; prints the EAI_* result by name.
// Usage: resolve NAME numeric|any|inet|inet6
//   numeric  AI_NUMERICHOST: the name is parsed, never looked up
//   inet, inet6  only that family (hints.ai_family), as a client trying
//            each family in turn asks
#include <netdb.h>

#include "testutil.h"

static const char* gai_name(int rc) {
  switch (rc) {
    case 0: return "OK";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_SYSTEM: return "EAI_SYSTEM";
    case EAI_OVERFLOW: return "EAI_OVERFLOW";
    case EAI_NODATA: return "EAI_NODATA";
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
    default: return "EAI_OTHER";
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s NAME numeric|any|inet|inet6\n", argv[0]);
    return 2;
  }
  struct addrinfo hints = {0};
  hints.ai_socktype = SOCK_STREAM;
  if (strcmp(argv[2], "numeric") == 0) hints.ai_flags = AI_NUMERICHOST;
  if (strcmp(argv[2], "inet") == 0) hints.ai_family = AF_INET;
  if (strcmp(argv[2], "inet6") == 0) hints.ai_family = AF_INET6;
  struct addrinfo* res = NULL;
  int rc = getaddrinfo(argv[1], "80", &hints, &res);
  printf("getaddrinfo: %s\n", gai_name(rc));
  if (res) freeaddrinfo(res);
  return 0;
}
