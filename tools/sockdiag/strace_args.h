// The values in strace's arguments and results that records need, read
// from the text strace 6.1 prints for them with -y -v -s 0: descriptors and
// their decoding, socket addresses, flag sets, poll and epoll events, byte
// counts of vectors and messages. Every reader returns false (or nothing) on
// text it does not know: never a guess.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sdcli {

// The index of the bracket that closes the group opened just before `i`
// (depth 1), skipping strings and -y's "<...>" after a descriptor's number
// (strace escapes '<' and '>' in the paths it prints there). npos: unclosed.
std::size_t closing_bracket(std::string_view s, std::size_t i);

// The top-level arguments of ARGS (split at commas outside brackets and
// strings). At most kMax; more are not needed by any call read here.
struct ArgList {
  static constexpr int kMax = 8;
  std::string_view v[kMax];
  int n = 0;
  std::string_view operator[](int i) const { return i < n ? v[i] : std::string_view(); }
};
ArgList split_args(std::string_view args);

// "3<socket:[123]>" -> 3 and "socket:[123]"; "3" -> 3 and "". Also AT_FDCWD-like
// names are refused: only numbers.
bool parse_fd(std::string_view text, int* fd, std::string_view* decoding);
// The inode of "socket:[123]"; 0 when the decoding is not a socket's.
unsigned long socket_inode(std::string_view decoding);
// A decoding strace gives a descriptor that is not a socket: a path, a pipe.
inline bool names_non_socket(std::string_view decoding) { return !decoding.empty() && !socket_inode(decoding); }

// The text of a quoted string as strace escapes it (\\ \" \n \t \r \v \f
// \NNN octal \xHH). false: not a whole string, or one cut short ("...").
bool unquote(std::string_view quoted, std::string* out);

// A decimal or "0x" hex number at the front of `s`, taken off it.
bool take_number(std::string_view& s, long* out);
// A decimal or hex number, the whole text.
bool parse_long(std::string_view text, long* out);

// "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"127.0.0.1\")}" and
// its AF_INET6 and AF_UNIX forms. false for NULL, a pointer strace could not
// read, or a family records do not show.
bool parse_sockaddr(std::string_view text, sockaddr_storage* out, socklen_t* len);

// One name in a set of flags: "SOCK_STREAM|SOCK_NONBLOCK" has "SOCK_NONBLOCK".
bool has_flag(std::string_view flags, std::string_view name);

// Each "{fd=N, revents=...}" of poll's result, in order: f(fd, revents).
template <class F>
void for_each_poll_result(std::string_view detail, F f);
// Each "{events=..., data={u32=..., u64=N}}" of an epoll array: f(events, N).
template <class F>
void for_each_epoll_event(std::string_view array, F f);
// The data of epoll_ctl's event argument, "{events=..., data={u32=.., u64=N}}".
bool epoll_data(std::string_view event, uint64_t* out);

// The errno name or number in getsockopt's "[ECONNREFUSED]" / "[111]" / "[0]".
bool parse_so_error(std::string_view value, int* out);
// socketpair's "[3<socket:[1]>, 4<socket:[2]>]".
bool parse_fd_pair(std::string_view value, int fds[2]);
// The bytes a vector asks for: readv's "[{iov_base=..., iov_len=5}, ...]"; a
// message's msg_iov inside "{msg_name=..., msg_iov=[...], ...}". false: unknown.
bool iov_total(std::string_view vector, uint64_t* out);
bool msg_iov_total(std::string_view msghdr, uint64_t* out);
// The address a message names (sendmsg/recvmsg's msg_name), if readable.
bool msg_name(std::string_view msghdr, sockaddr_storage* out, socklen_t* len);
// The time a SO_RCVTIMEO/SO_SNDTIMEO value sets: "{tv_sec=0, tv_usec=0}" is none.
bool timeval_is_zero(std::string_view value);

// The value of "key=VALUE" among the top-level fields of a "{...}" text.
std::string_view field(std::string_view braces, std::string_view key);

// Implementation of the templates.
namespace detail {
// The "{...}" items of a "[...]" array, one at a time from `pos`; "" at the end.
std::string_view next_item(std::string_view array, std::size_t* pos);
}

template <class F>
void for_each_poll_result(std::string_view detail, F f) {
  std::size_t at = detail.find('[');
  if (at == std::string_view::npos) return;
  std::string_view array = detail.substr(at);
  std::size_t pos = 0;
  for (std::string_view item = detail::next_item(array, &pos); !item.empty(); item = detail::next_item(array, &pos)) {
    int fd = -1;
    std::string_view dec;
    if (parse_fd(field(item, "fd"), &fd, &dec)) f(fd, field(item, "revents"));
  }
}

template <class F>
void for_each_epoll_event(std::string_view array, F f) {
  std::size_t pos = 0;
  for (std::string_view item = detail::next_item(array, &pos); !item.empty(); item = detail::next_item(array, &pos)) {
    uint64_t data = 0;
    if (epoll_data(item, &data)) f(field(item, "events"), data);
  }
}

}  // namespace sdcli
