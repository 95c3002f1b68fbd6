// An address as records show it (see addr_text.h).
#include "addr_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "line_buffer.h"

namespace sd {
namespace {

// Addresses are written into a buffer surely big enough, then copied: fmt's
// format_to_n into a small buffer goes a character at a time through a
// truncating iterator. And glibc's inet_ntop goes through sprintf.

// A C string buffer of `cap` bytes (cap > 0): what does not fit is dropped,
// and it always ends with a NUL.
class CStringOut {
 public:
  CStringOut(char* out, std::size_t cap) : p_(out), end_(out + cap - 1) {}
  void add(std::string_view s) {
    std::size_t room = static_cast<std::size_t>(end_ - p_);
    std::size_t n = s.size() < room ? s.size() : room;
    std::memcpy(p_, s.data(), n);
    p_ += n;
    *p_ = '\0';
  }

 private:
  char* p_;
  char* end_;
};

char* put_hex(char* p, unsigned v) {  // as printf's %x: no leading zeros
  static constexpr char kDigits[] = "0123456789abcdef";
  char digits[8];
  int n = 0;
  do {
    digits[n++] = kDigits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

// "0" to "255": an IPv4 byte is a look-up, not three divisions.
struct ByteTexts {
  char digits[256][3];
  unsigned char size[256];
  constexpr ByteTexts() : digits(), size() {
    for (int v = 0; v < 256; ++v) {
      int n = 0;
      if (v >= 100) digits[v][n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) digits[v][n++] = static_cast<char>('0' + v / 10 % 10);
      digits[v][n++] = static_cast<char>('0' + v % 10);
      size[v] = static_cast<unsigned char>(n);
    }
  }
};
constexpr ByteTexts kByteTexts;

// Copies all three bytes (the caller's buffer has room): one fixed-size move.
char* put_byte(char* p, unsigned char v) {
  std::memcpy(p, kByteTexts.digits[v], 3);
  return p + kByteTexts.size[v];
}

char* put_ipv4(char* p, const unsigned char* b) {
  for (int i = 0; i < 4; ++i) {
    if (i != 0) *p++ = '.';
    p = put_byte(p, b[i]);
  }
  return p;
}

// The text of glibc's inet_ntop: the longest run of two or more zero groups
// (the first of equal runs) becomes "::"; an IPv4-compatible (::a.b.c.d) or
// IPv4-mapped (::ffff:a.b.c.d) address ends in dotted IPv4.
char* put_ipv6(char* p, const unsigned char* a) {
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = static_cast<unsigned>(a[2 * i] << 8 | a[2 * i + 1]);
  int zeros_at = -1, zeros_len = 0;
  for (int i = 0; i < 8;) {
    int end = i;
    while (end < 8 && words[end] == 0) ++end;
    if (end - i > zeros_len) {
      zeros_at = i;
      zeros_len = end - i;
    }
    i = end == i ? i + 1 : end;
  }
  if (zeros_len < 2) zeros_at = -1;
  for (int i = 0; i < 8; ++i) {
    if (zeros_at >= 0 && i >= zeros_at && i < zeros_at + zeros_len) {
      if (i == zeros_at) *p++ = ':';
      continue;
    }
    if (i != 0) *p++ = ':';
    if (i == 6 && zeros_at == 0 && (zeros_len == 6 || (zeros_len == 5 && words[5] == 0xffff)))
      return put_ipv4(p, a + 12);
    p = put_hex(p, words[i]);
  }
  if (zeros_at >= 0 && zeros_at + zeros_len == 8) *p++ = ':';
  return p;
}

}  // namespace

char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap) {
  if (cap == 0) return out;
  out[0] = '\0';
  if (!addr || len < sizeof(sa_family_t)) return out;
  CStringOut text(out, cap);
  // Longest inet text: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535".
  char inet[64];
  char* p = inet;
  switch (addr->sa_family) {
    case AF_INET: {
      if (len < sizeof(sockaddr_in)) break;
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      p = put_ipv4(p, reinterpret_cast<const unsigned char*>(&in->sin_addr));
      *p++ = ':';
      p = put_decimal(p, ntohs(in->sin_port));
      text.add({inet, static_cast<std::size_t>(p - inet)});
      break;
    }
    case AF_INET6: {
      if (len < sizeof(sockaddr_in6)) break;
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      *p++ = '[';
      p = put_ipv6(p, in6->sin6_addr.s6_addr);
      *p++ = ']';
      *p++ = ':';
      p = put_decimal(p, ntohs(in6->sin6_port));
      text.add({inet, static_cast<std::size_t>(p - inet)});
      break;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      std::size_t path_len = len - offsetof(sockaddr_un, sun_path);
      if (len <= offsetof(sockaddr_un, sun_path)) {
        text.add("unnamed");
      } else if (un->sun_path[0] == '\0') {
        // Abstract namespace: the name is the bytes after the NUL, not a C string.
        text.add("@");
        text.add({un->sun_path + 1, path_len - 1});
      } else {
        text.add({un->sun_path, strnlen(un->sun_path, path_len)});
      }
      break;
    }
    default:
      text.add("family ");
      p = put_decimal(p, addr->sa_family);
      text.add({inet, static_cast<std::size_t>(p - inet)});
  }
  return out;
}

}  // namespace sd
