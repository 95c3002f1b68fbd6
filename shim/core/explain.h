// The explanation table: what an error means for a given call in a given
// situation, and what to do. One table serves the library and `sockdiag explain`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sd {

// Severity of a record. Expected flow (EAGAIN on a non-blocking socket,
// EINPROGRESS) is debug: counted, but not written at the default level.
enum class Level : uint8_t { off = 0, error = 1, info = 2, debug = 3, trace = 4 };
const char* level_name(Level);

// What kind of code a row explains.
enum class CodeKind : uint8_t {
  errno_code,  // an errno value (ECONNRESET...)
  gai,         // a getaddrinfo result (EAI_AGAIN...), glibc's negative values
  event,       // a failure that is not a -1 return (see Event below)
};

// Failures met without a -1 return.
enum Event : int {
  ev_eof = 1,      // recv/read returned 0: the peer closed its side
  ev_pollhup = 2,  // poll/epoll reported POLLHUP on a socket
  ev_pollerr = 3,  // poll/epoll reported POLLERR on a socket
  // Notices of fault injection that are not failures of the call itself.
  ev_injected_delay = 4,  // the call was held back (delay, bandwidth)
  ev_injected_short = 5,  // the call moves fewer bytes than asked for
  ev_injected_reset = 6,  // the socket was closed with an RST
  ev_injected_datagram = 7,  // a datagram was dropped, duplicated, held back or cut (the note says which)
};

// The call, as far as its meaning for an explanation goes.
enum class CallClass : uint8_t {
  any, socket, connect, bind, listen, accept, send, recv, close, shutdown,
  sockopt, poll, dns, fdops,
};
const char* call_class_name(CallClass);
bool call_class_from_name(std::string_view, CallClass* out);

// Facts about the situation, found by the library at the time of the
// failure. A row applies when all of its `when` bits are present.
enum Situation : uint32_t {
  sit_nonblocking = 1u << 0,   // O_NONBLOCK on the fd, or MSG_DONTWAIT
  sit_own_timeout = 1u << 1,   // SO_RCVTIMEO/SO_SNDTIMEO set on a blocking fd
  sit_async = 1u << 2,         // result of a non-blocking connect, read via SO_ERROR
  sit_established = 1u << 3,   // the connection had been set up (connect ok / accepted)
  sit_datagram = 1u << 4,      // UDP or another datagram socket
  sit_unix = 1u << 5,          // AF_UNIX
  sit_injected = 1u << 6,      // caused by a sockdiag fault-injection rule
  sit_abstract = 1u << 7,      // the unix address named is abstract ("@name"): no file behind it
  sit_reuseaddr = 1u << 8,     // SO_REUSEADDR set on the socket (found for a bind's EADDRINUSE)
  sit_abandoned = 1u << 9,     // a connect still waiting for an answer, given up by the program
  sit_after_error = 1u << 10,  // the connection had already failed (reset, timed out) before this call
  sit_probe = 1u << 11,        // a test the program makes and goes on from: a socket call on a
                               // descriptor never used as a socket, a numeric address of the other family
  sit_own_shutdown = 1u << 12, // the program had shut the socket down in the call's direction
                               // (SHUT_RD before a read's 0, SHUT_WR before a write's EPIPE)
};
constexpr uint32_t kAllSituations = (sit_own_shutdown << 1) - 1;  // every bit above

struct Explanation {
  CodeKind code_kind;
  int code;            // errno value, EAI_* value, or Event
  CallClass call;      // CallClass::any: a row for every call
  uint32_t when;       // Situation bits that must all be present (0: always)
  Level level;         // severity of a record matching this row
  const char* name;    // "ECONNREFUSED", "EAI_AGAIN", "EOF"
  // What happened, in the situation. May hold placeholders filled in from the
  // record: {peer} {local} {host} {fd} {call} {sent} {received} {age}.
  const char* text;
  const char* advice;  // what to do about it
};

// All rows, most specific first for each code (lookup takes the first match).
const Explanation* explanation_rows(std::size_t* count);

// The row for `code` in this call and situation: the first row whose call
// matches (or is `any`) and whose `when` bits are all in `situation`.
// nullptr when the table has nothing for the code.
const Explanation* explain(CodeKind, int code, CallClass, uint32_t situation);

// Symbolic names: "ECONNRESET" <-> 104, "EAI_AGAIN" <-> EAI_AGAIN, "EOF".
// Names of errnos the table has no row for come from glibc (strerrorname_np).
const char* code_name(CodeKind, int code);
bool code_from_name(std::string_view name, CodeKind* code_kind, int* code);
// strerror-like text that takes no lock and allocates nothing.
const char* code_message(CodeKind, int code);

}  // namespace sd
