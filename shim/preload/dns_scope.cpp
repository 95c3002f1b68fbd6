// Which getaddrinfo calls would ask DNS (see dns_scope.h).
#include "dns_scope.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "caller_memory.h"
#include "interpose.h"

namespace sd {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A literal address as getaddrinfo reads one: IPv4 in any form inet_aton
// takes ("127.1", "0x7f.0.0.1"; glibc's exact variant refuses trailing
// text, so any blank makes it a name), IPv6 with an optional "%scope".
bool is_literal_address(const char* node) {
  for (const char* p = node; *p; ++p)
    if (is_blank(*p)) return false;
  in_addr v4;
  if (inet_aton(node, &v4) != 0) return true;
  char text[INET6_ADDRSTRLEN];
  std::size_t n = std::strcspn(node, "%");
  if (n == 0 || n >= sizeof(text)) return false;
  std::memcpy(text, node, n);
  text[n] = '\0';
  in6_addr v6;
  return inet_pton(AF_INET6, text, &v6) == 1;
}

bool same_name(const char* a, std::size_t a_len, const char* b) {
  for (std::size_t i = 0; i < a_len; ++i, ++b) {
    char x = a[i], y = *b;
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (y == '\0' || x != y) return false;
  }
  return *b == '\0';
}

// The family of a hosts file line's address column; 0 when it is none.
int address_family(const char* word, std::size_t len) {
  char text[INET6_ADDRSTRLEN];
  if (len == 0 || len >= sizeof(text)) return 0;
  std::memcpy(text, word, len);
  text[len] = '\0';
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(AF_INET, text, addr) == 1) return AF_INET;
  if (inet_pton(AF_INET6, text, addr) == 1) return AF_INET6;
  return 0;
}

}  // namespace

LookupScope lookup_scope(const char* node, const addrinfo* hints, int* family) {
  *family = AF_UNSPEC;
  if (!node) return LookupScope::no_dns;
  if (hints) {
    addrinfo h;
    if (!copy_from_program(&h, hints, sizeof(h))) return LookupScope::no_dns;
    if (h.ai_flags & AI_NUMERICHOST) return LookupScope::no_dns;
    *family = h.ai_family;
  }
  return is_literal_address(node) ? LookupScope::no_dns : LookupScope::name;
}

bool in_hosts_file(const char* name, int family) {
  int saved = errno;
  int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errno = saved;
    return false;
  }
  // One word at a time: the first of a line is the address, the others its
  // names; "#" comments to the end of the line. A word longer than any
  // name (253 bytes) is skipped whole.
  char buf[2048];
  char word[256];
  std::size_t word_len = 0;
  bool overlong = false, comment = false, found = false;
  int index = 0;        // of the word on its line
  int line_family = 0;  // of the line's address
  auto end_word = [&]() {
    if (word_len == 0 && !overlong) return;
    if (!overlong) {
      if (index == 0) line_family = address_family(word, word_len);
      else if (line_family && (family == AF_UNSPEC || family == line_family) && same_name(word, word_len, name))
        found = true;
    }
    ++index;
    word_len = 0;
    overlong = false;
  };
  ssize_t n;
  while (!found && (n = real<Call::read>()(fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (ssize_t i = 0; i < n && !found; ++i) {
      char c = buf[i];
      if (c == '\n') {
        if (!comment) end_word();
        comment = false;
        index = 0;
        line_family = 0;
        continue;
      }
      if (comment) continue;
      if (c == '#') comment = true;
      if (c == '#' || is_blank(c)) end_word();
      else if (word_len < sizeof(word)) word[word_len++] = c;
      else overlong = true;
    }
  }
  if (!found && !comment) end_word();
  real<Call::close>()(fd);
  errno = saved;
  return found;
}

}  // namespace sd
