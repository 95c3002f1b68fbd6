// Values in strace's arguments (see strace_args.h).
#include "strace_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cctype>
#include <cstddef>
#include <cstring>

#include "explain.h"

namespace sdcli {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Past the quoted string that starts at s[i] ('"'): strace escapes '"' and
// '\' inside with a backslash. npos: not closed.
std::size_t past_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

bool unquote(std::string_view s, std::string* out) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  out->clear();
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i + 1 > s.size() - 1) return false;
    c = s[i];
    switch (c) {
      case 'n': out->push_back('\n'); break;
      case 't': out->push_back('\t'); break;
      case 'r': out->push_back('\r'); break;
      case 'v': out->push_back('\v'); break;
      case 'f': out->push_back('\f'); break;
      case 'x': {
        unsigned v = 0;
        int n = 0;
        for (; n < 2 && i + 1 < s.size() - 1 && std::isxdigit(static_cast<unsigned char>(s[i + 1])); ++n, ++i)
          v = v * 16 + static_cast<unsigned>(is_digit(s[i + 1]) ? s[i + 1] - '0' : (s[i + 1] | 0x20) - 'a' + 10);
        if (n == 0) return false;
        out->push_back(static_cast<char>(v));
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          unsigned v = static_cast<unsigned>(c - '0');
          for (int n = 1; n < 3 && i + 1 < s.size() - 1 && s[i + 1] >= '0' && s[i + 1] <= '7'; ++n, ++i)
            v = v * 8 + static_cast<unsigned>(s[i + 1] - '0');
          out->push_back(static_cast<char>(v));
        } else {
          out->push_back(c);  // \\ and \"
        }
    }
  }
  return true;
}

namespace {

// "htons(80)" -> 80.
bool parse_port(std::string_view s, uint16_t* port) {
  long v = 0;
  if (s.substr(0, 6) != "htons(" || s.back() != ')' || !parse_long(s.substr(6, s.size() - 7), &v) || v < 0 ||
      v > 65535)
    return false;
  *port = htons(static_cast<uint16_t>(v));
  return true;
}

}  // namespace

bool take_number(std::string_view& s, long* out) {
  std::size_t i = 0;
  bool negative = !s.empty() && s[0] == '-';
  if (negative) ++i;
  if (i >= s.size() || !is_digit(s[i])) return false;
  unsigned base = 10;
  if (s.size() > i + 1 && s[i] == '0' && s[i + 1] == 'x') base = 16, i += 2;
  unsigned long v = 0;
  std::size_t start = i;
  for (; i < s.size(); ++i) {
    char c = s[i];
    unsigned d = is_digit(c) ? unsigned(c - '0') : base == 16 && c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10) : 16u;
    if (d >= base) break;
    if (v > (~0ul - d) / base) return false;  // more than strace writes
    v = v * base + d;
  }
  if (i == start) return false;
  *out = negative ? -static_cast<long>(v) : static_cast<long>(v);
  s.remove_prefix(i);
  return true;
}

bool parse_long(std::string_view text, long* out) { return take_number(text, out) && text.empty(); }

std::size_t closing_bracket(std::string_view s, std::size_t i) {
  int depth = 1;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      i = past_string(s, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '<' && i > 0 && is_digit(s[i - 1])) {
      i = s.find('>', i);
      if (i == std::string_view::npos) return i;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0) return i;
    }
    ++i;
  }
  return std::string_view::npos;
}

ArgList split_args(std::string_view args) {
  ArgList out;
  std::size_t start = 0, i = 0;
  while (i < args.size() && out.n < ArgList::kMax) {
    char c = args[i];
    if (c == '"') {
      i = past_string(args, i);
      if (i == std::string_view::npos) break;
      continue;
    }
    if (c == '<' && i > 0 && is_digit(args[i - 1])) {
      i = args.find('>', i);
      if (i == std::string_view::npos) break;
    } else if (c == '(' || c == '[' || c == '{') {
      i = closing_bracket(args, i + 1);
      if (i == std::string_view::npos) break;
    } else if (c == ',') {
      out.v[out.n++] = trim(args.substr(start, i - start));
      start = i + 1;
    }
    ++i;
  }
  if (out.n < ArgList::kMax && start < args.size()) out.v[out.n++] = trim(args.substr(start));
  return out;
}

bool parse_fd(std::string_view text, int* fd, std::string_view* decoding) {
  long v = 0;
  if (!take_number(text, &v) || v < 0 || v > 0x7fffffff) return false;
  *fd = static_cast<int>(v);
  *decoding = {};
  if (text.empty()) return true;
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return false;
  *decoding = text.substr(1, text.size() - 2);
  return true;
}

unsigned long socket_inode(std::string_view d) {
  if (d.substr(0, 8) != "socket:[" || d.back() != ']') return 0;
  long v = 0;
  return parse_long(d.substr(8, d.size() - 9), &v) && v > 0 ? static_cast<unsigned long>(v) : 0;
}

std::string_view field(std::string_view braces, std::string_view key) {
  if (braces.size() < 2 || braces.front() != '{' || braces.back() != '}') return {};
  ArgList fields = split_args(braces.substr(1, braces.size() - 2));
  // More fields than kMax: the keys read here come first in strace's order.
  for (int i = 0; i < fields.n; ++i) {
    std::string_view f = fields.v[i];
    if (f.size() > key.size() && f.substr(0, key.size()) == key && f[key.size()] == '=')
      return f.substr(key.size() + 1);
  }
  return {};
}

bool parse_sockaddr(std::string_view text, sockaddr_storage* out, socklen_t* len) {
  std::string_view family = field(text, "sa_family");
  std::memset(out, 0, sizeof(*out));
  if (family == "AF_INET") {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    std::string_view addr = field(text, "sin_addr");
    std::string a;
    if (!parse_port(field(text, "sin_port"), &in->sin_port) || addr.substr(0, 10) != "inet_addr(" ||
        addr.back() != ')' || !unquote(addr.substr(10, addr.size() - 11), &a) ||
        inet_pton(AF_INET, a.c_str(), &in->sin_addr) != 1)
      return false;
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (family == "AF_INET6") {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    if (!parse_port(field(text, "sin6_port"), &in6->sin6_port)) return false;
    // The address is a field without a key: inet_pton(AF_INET6, "::1", &sin6_addr).
    std::size_t at = text.find("inet_pton(AF_INET6, ");
    if (at == std::string_view::npos) return false;
    std::string_view rest = text.substr(at + 20);
    std::size_t end = rest.find(", &sin6_addr)");
    std::string a;
    if (end == std::string_view::npos || !unquote(rest.substr(0, end), &a) ||
        inet_pton(AF_INET6, a.c_str(), &in6->sin6_addr) != 1)
      return false;
    long scope = 0;
    std::string_view scope_text = field(text, "sin6_scope_id");
    if (!scope_text.empty() && parse_long(scope_text, &scope) && scope > 0)
      in6->sin6_scope_id = static_cast<uint32_t>(scope);
    *len = sizeof(sockaddr_in6);
    return true;
  }
  if (family == "AF_UNIX") {
    auto* un = reinterpret_cast<sockaddr_un*>(out);
    un->sun_family = AF_UNIX;
    std::string_view path = field(text, "sun_path");
    if (path.empty()) {
      *len = sizeof(sa_family_t);  // unnamed
      return true;
    }
    bool abstract = path.front() == '@';
    if (abstract) path.remove_prefix(1);
    std::string p;
    if (!unquote(path, &p) || p.size() + (abstract ? 1 : 0) >= sizeof(un->sun_path)) return false;
    std::memcpy(un->sun_path + (abstract ? 1 : 0), p.data(), p.size());
    // One byte more than the name: a path's NUL, or an abstract name's leading one.
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + p.size());
    return true;
  }
  return false;
}

bool has_flag(std::string_view flags, std::string_view name) {
  while (!flags.empty()) {
    std::size_t bar = flags.find('|');
    if (flags.substr(0, bar) == name) return true;
    if (bar == std::string_view::npos) break;
    flags.remove_prefix(bar + 1);
  }
  return false;
}

namespace detail {
std::string_view next_item(std::string_view array, std::size_t* pos) {
  if (array.empty() || array.front() != '[') return {};
  std::size_t i = array.find('{', *pos == 0 ? 1 : *pos);
  if (i == std::string_view::npos) return {};
  std::size_t end = closing_bracket(array, i + 1);
  if (end == std::string_view::npos) return {};
  *pos = end + 1;
  return array.substr(i, end - i + 1);
}
}  // namespace detail

bool epoll_data(std::string_view event, uint64_t* out) {
  std::string_view data = field(event, "data");
  long v = 0;
  std::string_view u64 = field(data, "u64");
  if (u64.empty() || !take_number(u64, &v) || !u64.empty()) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

bool parse_so_error(std::string_view value, int* out) {
  if (value.size() < 3 || value.front() != '[' || value.back() != ']') return false;
  std::string_view inner = value.substr(1, value.size() - 2);
  long v = 0;
  if (parse_long(inner, &v)) {
    if (v < 0 || v > 4095) return false;
    *out = static_cast<int>(v);
    return true;
  }
  sd::CodeKind kind;
  return sd::code_from_name(inner, &kind, out) && kind == sd::CodeKind::errno_code;
}

bool parse_fd_pair(std::string_view value, int fds[2]) {
  if (value.size() < 2 || value.front() != '[' || value.back() != ']') return false;
  ArgList two = split_args(value.substr(1, value.size() - 2));
  std::string_view d;
  return two.n == 2 && parse_fd(two.v[0], &fds[0], &d) && parse_fd(two.v[1], &fds[1], &d);
}

bool iov_total(std::string_view vector, uint64_t* out) {
  if (vector.empty() || vector.front() != '[') return false;
  uint64_t total = 0;
  std::size_t pos = 0;
  bool any = false;
  for (std::string_view item = detail::next_item(vector, &pos); !item.empty(); item = detail::next_item(vector, &pos)) {
    long n = 0;
    if (!parse_long(field(item, "iov_len"), &n) || n < 0) return false;
    total += static_cast<uint64_t>(n);
    any = true;
  }
  // "[]" is a vector of nothing; "[...]" an abbreviated one (not counted).
  if (!any && vector != "[]") return false;
  *out = total;
  return true;
}

bool msg_iov_total(std::string_view msghdr, uint64_t* out) { return iov_total(field(msghdr, "msg_iov"), out); }

bool msg_name(std::string_view msghdr, sockaddr_storage* out, socklen_t* len) {
  return parse_sockaddr(field(msghdr, "msg_name"), out, len);
}

bool timeval_is_zero(std::string_view value) {
  long s = -1, us = -1;
  std::string_view usec = field(value, "tv_usec");
  return parse_long(field(value, "tv_sec"), &s) && parse_long(usec, &us) && s == 0 && us == 0;
}

}  // namespace sdcli
