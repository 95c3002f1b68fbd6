// The explanation table: situation-specific look-ups, table integrity, and
// the name/message functions around it.
#include <catch2/catch.hpp>
#include <netdb.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <vector>
#include <utility>

#include "explain.h"

using sd::CallClass;
using sd::CodeKind;
using sd::Explanation;
using sd::Level;

namespace {

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool mentions(const Explanation* row, const std::string& what) {
  return row != nullptr && lower(row->text).find(lower(what)) != std::string::npos;
}

std::vector<const Explanation*> all_rows() {
  std::size_t count = 0;
  const Explanation* rows = sd::explanation_rows(&count);
  std::vector<const Explanation*> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(&rows[i]);
  return out;
}

std::string describe(const Explanation* r) {
  return std::string(r->name) + " call=" + sd::call_class_name(r->call) +
         " when=" + std::to_string(r->when);
}

const std::vector<int> kRequiredErrnos = {
    EAGAIN,       EINTR,        ECONNABORTED,    ECONNRESET,  EPIPE,       ECONNREFUSED,
    ETIMEDOUT,    EHOSTUNREACH, ENETUNREACH,     EADDRINUSE,  EADDRNOTAVAIL, EMFILE,
    ENFILE,       ENOBUFS,      ENOMEM,          ENOTCONN,    EISCONN,     EALREADY,
    EINPROGRESS,  ENOTSOCK,     EBADF,           EMSGSIZE,    ENETDOWN,    EACCES,
    EPERM,        EAFNOSUPPORT, EPROTONOSUPPORT, EINVAL,      EFAULT,      ESHUTDOWN,
    EPROTOTYPE,   EOPNOTSUPP,   EDESTADDRREQ,    ENOENT,      ENOPROTOOPT,
};

const std::vector<int> kAllGai = {
    EAI_BADFLAGS, EAI_NONAME,   EAI_AGAIN,   EAI_FAIL,       EAI_FAMILY,   EAI_SOCKTYPE,
    EAI_SERVICE,  EAI_MEMORY,   EAI_SYSTEM,  EAI_OVERFLOW,   EAI_NODATA,   EAI_ADDRFAMILY,
    EAI_INPROGRESS, EAI_CANCELED, EAI_NOTCANCELED, EAI_ALLDONE, EAI_INTR, EAI_IDN_ENCODE,
};

const std::vector<int> kAllEvents = {sd::ev_eof, sd::ev_pollhup, sd::ev_pollerr};

}  // namespace

TEST_CASE("EAGAIN depends on the call and on how the socket waits", "[explain]") {
  const Explanation* recv_nb = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::recv, sd::sit_nonblocking);
  REQUIRE(recv_nb != nullptr);
  CHECK(recv_nb->level == Level::debug);
  CHECK(mentions(recv_nb, "nothing to read"));

  const Explanation* recv_to = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::recv, sd::sit_own_timeout);
  REQUIRE(recv_to != nullptr);
  CHECK(recv_to->level == Level::error);
  CHECK(mentions(recv_to, "SO_RCVTIMEO"));

  const Explanation* send_nb = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::send, sd::sit_nonblocking);
  REQUIRE(send_nb != nullptr);
  CHECK(send_nb->level == Level::debug);
  CHECK(mentions(send_nb, "send buffer is full"));

  const Explanation* send_to = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::send, sd::sit_own_timeout);
  REQUIRE(send_to != nullptr);
  CHECK(send_to->level == Level::error);
  CHECK(mentions(send_to, "SO_SNDTIMEO"));

  const Explanation* accept_nb = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::accept, sd::sit_nonblocking);
  REQUIRE(accept_nb != nullptr);
  CHECK(accept_nb->level == Level::debug);
  CHECK(mentions(accept_nb, "no pending connection"));

  const Explanation* unix_connect = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::connect, sd::sit_unix);
  REQUIRE(unix_connect != nullptr);
  CHECK(unix_connect->level == Level::error);
  CHECK(mentions(unix_connect, "backlog"));

  const Explanation* tcp_connect = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::connect, 0);
  REQUIRE(tcp_connect != nullptr);
  CHECK(tcp_connect->level == Level::error);
  CHECK(mentions(tcp_connect, "ephemeral port"));

  const Explanation* generic = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::any, 0);
  REQUIRE(generic != nullptr);
  CHECK(generic->call == CallClass::any);
  CHECK(generic->when == 0);

  std::set<const Explanation*> distinct = {recv_nb, recv_to, send_nb, send_to, accept_nb,
                                           unix_connect, tcp_connect, generic};
  CHECK(distinct.size() == 8);
}

TEST_CASE("extra situation bits do not hide a matching row", "[explain]") {
  const uint32_t many = sd::sit_nonblocking | sd::sit_established | sd::sit_injected;
  CHECK(sd::explain(CodeKind::errno_code, EAGAIN, CallClass::recv, many) ==
        sd::explain(CodeKind::errno_code, EAGAIN, CallClass::recv, sd::sit_nonblocking));
  // A row needs all of its bits: datagram alone is not the unix-datagram row.
  const Explanation* udp = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::send,
                                       sd::sit_nonblocking | sd::sit_datagram);
  const Explanation* unix_dgram = sd::explain(CodeKind::errno_code, EAGAIN, CallClass::send,
                                              sd::sit_nonblocking | sd::sit_datagram | sd::sit_unix);
  REQUIRE(udp != nullptr);
  REQUIRE(unix_dgram != nullptr);
  CHECK(udp != unix_dgram);
  CHECK(mentions(unix_dgram, "queue full"));
}

TEST_CASE("ECONNREFUSED: plain, non-blocking, unix and datagram connects differ", "[explain]") {
  const Explanation* plain = sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::connect, 0);
  const Explanation* async = sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::connect, sd::sit_async);
  const Explanation* unix = sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::connect, sd::sit_unix);
  const Explanation* udp = sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::send, sd::sit_datagram);
  REQUIRE(plain != nullptr);
  REQUIRE(async != nullptr);
  REQUIRE(unix != nullptr);
  REQUIRE(udp != nullptr);
  CHECK(std::set<const Explanation*>{plain, async, unix, udp}.size() == 4);
  CHECK(mentions(plain, "RST"));
  CHECK(mentions(async, "SO_ERROR"));
  CHECK(mentions(unix, "stale"));
  CHECK(mentions(udp, "port unreachable"));
  CHECK(sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::recv, sd::sit_datagram) == udp);
  for (const Explanation* r : {plain, async, unix, udp}) CHECK(r->level == Level::error);
}

TEST_CASE("an abstract unix name is explained without a socket file", "[explain]") {
  const uint32_t abstract = sd::sit_unix | sd::sit_abstract;
  const Explanation* refused = sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::connect, abstract);
  const Explanation* in_use = sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, abstract);
  REQUIRE(refused != nullptr);
  REQUIRE(in_use != nullptr);
  for (const Explanation* row : {refused, in_use}) {
    INFO(row->text);
    CHECK(mentions(row, "abstract"));
    CHECK_FALSE(mentions(row, "file {"));
    CHECK_FALSE(mentions(row, "stale"));
    CHECK(std::string(row->advice).find("remove") == std::string::npos);
  }
  CHECK(mentions(refused, "network namespace"));
  CHECK(refused != sd::explain(CodeKind::errno_code, ECONNREFUSED, CallClass::connect, sd::sit_unix));
  CHECK(in_use != sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, sd::sit_unix));
}

TEST_CASE("ETIMEDOUT: connecting versus an established connection", "[explain]") {
  const Explanation* connecting = sd::explain(CodeKind::errno_code, ETIMEDOUT, CallClass::connect, 0);
  const Explanation* established =
      sd::explain(CodeKind::errno_code, ETIMEDOUT, CallClass::recv, sd::sit_established);
  REQUIRE(connecting != nullptr);
  REQUIRE(established != nullptr);
  CHECK(connecting != established);
  CHECK(mentions(connecting, "SYN"));
  CHECK(mentions(established, "keepalive"));
  CHECK(sd::explain(CodeKind::errno_code, ETIMEDOUT, CallClass::send, sd::sit_established) == established);
}

TEST_CASE("other situation-specific rows", "[explain]") {
  const Explanation* reset_recv =
      sd::explain(CodeKind::errno_code, ECONNRESET, CallClass::recv, sd::sit_established);
  const Explanation* reset_send =
      sd::explain(CodeKind::errno_code, ECONNRESET, CallClass::send, sd::sit_established);
  REQUIRE(reset_recv != nullptr);
  REQUIRE(reset_send != nullptr);
  CHECK(reset_recv != reset_send);
  CHECK(mentions(reset_send, "EPIPE"));

  const Explanation* pipe = sd::explain(CodeKind::errno_code, EPIPE, CallClass::send, sd::sit_established);
  REQUIRE(pipe != nullptr);
  CHECK(mentions(pipe, "SIGPIPE"));

  // A 0 after the program's own SHUT_RD is no FIN of the peer's, even on an
  // established connection.
  const Explanation* fin = sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_established);
  const Explanation* own =
      sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_established | sd::sit_own_shutdown);
  REQUIRE(fin != nullptr);
  REQUIRE(own != nullptr);
  CHECK(own != fin);
  CHECK(own->level == Level::debug);
  CHECK(mentions(own, "SHUT_RD"));
  CHECK_FALSE(mentions(own, "FIN)"));
  // So is an EPIPE after its own SHUT_WR.
  const Explanation* own_pipe =
      sd::explain(CodeKind::errno_code, EPIPE, CallClass::send, sd::sit_established | sd::sit_own_shutdown);
  REQUIRE(own_pipe != nullptr);
  CHECK(own_pipe != pipe);
  CHECK(mentions(own_pipe, "SHUT_WR"));
  CHECK_FALSE(mentions(own_pipe, "had closed it"));

  const Explanation* inprogress =
      sd::explain(CodeKind::errno_code, EINPROGRESS, CallClass::connect, sd::sit_nonblocking);
  REQUIRE(inprogress != nullptr);
  CHECK(inprogress->level == Level::debug);
  const Explanation* connect_timeout =
      sd::explain(CodeKind::errno_code, EINPROGRESS, CallClass::connect, sd::sit_own_timeout);
  REQUIRE(connect_timeout != nullptr);
  CHECK(connect_timeout->level == Level::error);

  const Explanation* emfile = sd::explain(CodeKind::errno_code, EMFILE, CallClass::accept, 0);
  REQUIRE(emfile != nullptr);
  CHECK(mentions(emfile, "RLIMIT_NOFILE"));

  const Explanation* bind_unix = sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, sd::sit_unix);
  const Explanation* bind_tcp = sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, 0);
  REQUIRE(bind_unix != nullptr);
  REQUIRE(bind_tcp != nullptr);
  CHECK(bind_unix != bind_tcp);
  CHECK(mentions(bind_tcp, "TIME_WAIT"));
  const Explanation* bind_reuse = sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, sd::sit_reuseaddr);
  REQUIRE(bind_reuse != nullptr);
  CHECK(bind_reuse != bind_tcp);
  CHECK(mentions(bind_reuse, "live socket"));
  CHECK(sd::explain(CodeKind::errno_code, EADDRINUSE, CallClass::bind, sd::sit_unix | sd::sit_reuseaddr) == bind_unix);

  const Explanation* intr = sd::explain(CodeKind::errno_code, EINTR, CallClass::recv, 0);
  REQUIRE(intr != nullptr);
  CHECK(intr->level == Level::info);
  const Explanation* intr_close = sd::explain(CodeKind::errno_code, EINTR, CallClass::close, 0);
  REQUIRE(intr_close != nullptr);
  CHECK(intr_close != intr);

  const Explanation* accept_aborted =
      sd::explain(CodeKind::errno_code, ECONNABORTED, CallClass::accept, 0);
  REQUIRE(accept_aborted != nullptr);
  CHECK(mentions(accept_aborted, "before the program accepted"));
}

TEST_CASE("probes, an abandoned connect and an EOF after a failure have rows of their own", "[explain]") {
  // ECONNRESET on a socket still connecting, after the program shut it down:
  // the peer never answered, so the row must not blame it.
  const Explanation* abandoned = sd::explain(CodeKind::errno_code, ECONNRESET, CallClass::connect,
                                             sd::sit_async | sd::sit_abandoned);
  REQUIRE(abandoned != nullptr);
  CHECK(mentions(abandoned, "abandoned by the program"));
  CHECK(abandoned != sd::explain(CodeKind::errno_code, ECONNRESET, CallClass::connect, sd::sit_async));

  const Explanation* probe = sd::explain(CodeKind::errno_code, ENOTSOCK, CallClass::recv, sd::sit_probe);
  const Explanation* reused = sd::explain(CodeKind::errno_code, ENOTSOCK, CallClass::recv, 0);
  REQUIRE(probe != nullptr);
  REQUIRE(reused != nullptr);
  CHECK(probe->level == Level::debug);
  CHECK(reused->level == Level::error);
  CHECK(sd::explain(CodeKind::errno_code, ENOTSOCK, CallClass::sockopt, sd::sit_probe) == probe);

  const Explanation* family = sd::explain(CodeKind::gai, EAI_ADDRFAMILY, CallClass::dns, sd::sit_probe);
  const Explanation* missing = sd::explain(CodeKind::gai, EAI_ADDRFAMILY, CallClass::dns, 0);
  REQUIRE(family != nullptr);
  REQUIRE(missing != nullptr);
  CHECK(family->level == Level::debug);
  CHECK(missing->level == Level::error);
  CHECK(mentions(family, "an IPv6 address asked for as AF_INET"));
  CHECK(mentions(missing, "only IPv4 addresses when AF_INET6 was asked for"));

  const Explanation* after_reset =
      sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_established | sd::sit_after_error);
  REQUIRE(after_reset != nullptr);
  CHECK(after_reset->level == Level::debug);
  CHECK(mentions(after_reset, "not an orderly"));
  CHECK(after_reset != sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_established));
}

TEST_CASE("getaddrinfo results name the host", "[explain]") {
  for (int code : {EAI_AGAIN, EAI_NONAME, EAI_FAIL}) {
    const Explanation* r = sd::explain(CodeKind::gai, code, CallClass::dns, 0);
    REQUIRE(r != nullptr);
    CHECK(std::string(r->text).find("{host}") != std::string::npos);
    CHECK(r->level == Level::error);
  }
  CHECK(mentions(sd::explain(CodeKind::gai, EAI_NONAME, CallClass::dns, 0), "NXDOMAIN"));
  CHECK(mentions(sd::explain(CodeKind::gai, EAI_AGAIN, CallClass::dns, 0), "SERVFAIL"));
}

TEST_CASE("events", "[explain]") {
  const Explanation* eof = sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_established);
  REQUIRE(eof != nullptr);
  CHECK(eof->level == Level::info);
  CHECK(mentions(eof, "FIN"));
  CHECK(std::string(eof->text).find("{received}") != std::string::npos);
  const Explanation* empty_dgram = sd::explain(CodeKind::event, sd::ev_eof, CallClass::recv, sd::sit_datagram);
  REQUIRE(empty_dgram != nullptr);
  CHECK(empty_dgram != eof);
  CHECK(mentions(empty_dgram, "zero-length datagram"));
  for (int ev : kAllEvents) {
    const Explanation* r = sd::explain(CodeKind::event, ev, CallClass::poll, 0);
    REQUIRE(r != nullptr);
    CHECK(r->level == Level::info);
  }
}

TEST_CASE("codes without rows give no explanation", "[explain]") {
  CHECK(sd::explain(CodeKind::errno_code, ENOTBLK, CallClass::any, 0) == nullptr);
  CHECK(sd::explain(CodeKind::gai, -999, CallClass::dns, 0) == nullptr);
  CHECK(sd::explain(CodeKind::event, 99, CallClass::recv, 0) == nullptr);
  // The same value in another kind of code is another code.
  CHECK(sd::explain(CodeKind::event, ECONNRESET, CallClass::any, 0) == nullptr);
}

TEST_CASE("look-ups take the first row that applies, as a scan of the whole table would", "[explain]") {
  // explain() and code_name() go through an index of each code's rows; the
  // table in order is the reference.
  auto scan = [](CodeKind d, int code, CallClass call, uint32_t situation) -> const Explanation* {
    for (const Explanation* r : all_rows()) {
      if (r->code_kind == d && r->code == code && (r->call == CallClass::any || r->call == call) &&
          (r->when & situation) == r->when)
        return r;
    }
    return nullptr;
  };
  std::set<std::pair<CodeKind, int>> codes;
  for (const Explanation* r : all_rows()) {
    codes.insert({r->code_kind, r->code});
    codes.insert({r->code_kind, r->code + 1});
    codes.insert({r->code_kind, r->code - 1});
  }
  for (CodeKind d : {CodeKind::errno_code, CodeKind::gai, CodeKind::event}) {
    for (int code : {0, INT_MIN, INT_MAX, -1, 1, 4095, 4096, -4096}) codes.insert({d, code});
  }
  const uint32_t all_bits = sd::kAllSituations;
  for (auto [d, code] : codes) {
    for (int call = 0; call <= static_cast<int>(CallClass::fdops); ++call) {
      for (uint32_t situation = 0; situation <= all_bits; ++situation) {
        auto c = static_cast<CallClass>(call);
        REQUIRE(sd::explain(d, code, c, situation) == scan(d, code, c, situation));
      }
    }
    const Explanation* first = scan(d, code, CallClass::any, all_bits);
    if (first) CHECK(std::string(sd::code_name(d, code)) == first->name);
  }
}

TEST_CASE("every row is complete", "[table]") {
  const std::set<std::string> placeholders = {"peer", "local", "host", "fd", "call", "sent", "received", "age"};
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    REQUIRE(r->name != nullptr);
    REQUIRE(r->text != nullptr);
    REQUIRE(r->advice != nullptr);
    CHECK(std::strlen(r->name) > 0);
    CHECK(std::strlen(r->text) > 0);
    CHECK(std::strlen(r->advice) > 0);
    CHECK((r->level == Level::error || r->level == Level::info || r->level == Level::debug));
    CHECK(static_cast<int>(r->call) <= static_cast<int>(CallClass::fdops));
    CHECK((r->when & ~sd::kAllSituations) == 0);
    for (const char* s : {r->text, r->advice}) {
      std::string str(s);
      for (std::size_t open = str.find('{'); open != std::string::npos; open = str.find('{', open + 1)) {
        std::size_t close = str.find('}', open);
        REQUIRE(close != std::string::npos);
        std::string name = str.substr(open + 1, close - open - 1);
        INFO("placeholder {" << name << "}");
        CHECK(placeholders.count(name) == 1);
      }
    }
  }
}

TEST_CASE("no two rows share code kind, code, call and situation", "[table]") {
  std::set<std::tuple<int, int, int, uint32_t>> seen;
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    auto key = std::make_tuple(static_cast<int>(r->code_kind), r->code, static_cast<int>(r->call), r->when);
    CHECK(seen.insert(key).second);
  }
}

TEST_CASE("every row is reachable: no earlier, more general row shadows it", "[table]") {
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    CHECK(sd::explain(r->code_kind, r->code, r->call, r->when) == r);
  }
}

TEST_CASE("rows of one code share its name, and errno names are glibc's", "[table]") {
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    CHECK(std::string(sd::code_name(r->code_kind, r->code)) == r->name);
    if (r->code_kind == CodeKind::errno_code) {
      REQUIRE(strerrorname_np(r->code) != nullptr);
      CHECK(std::string(strerrorname_np(r->code)) == r->name);
    }
  }
}

TEST_CASE("every listed code has a generic row", "[table]") {
  auto generic = [](CodeKind d, int code) {
    const Explanation* r = sd::explain(d, code, CallClass::any, 0);
    return r != nullptr && r->call == CallClass::any && r->when == 0;
  };
  for (int code : kRequiredErrnos) {
    INFO(strerrorname_np(code));
    CHECK(generic(CodeKind::errno_code, code));
  }
  for (int code : kAllGai) {
    INFO("EAI code " << code);
    CHECK(generic(CodeKind::gai, code));
  }
  for (int ev : kAllEvents) {
    INFO("event " << ev);
    CHECK(generic(CodeKind::event, ev));
  }
}

TEST_CASE("code names round-trip", "[names]") {
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    CodeKind d{};
    int code = 0;
    REQUIRE(sd::code_from_name(sd::code_name(r->code_kind, r->code), &d, &code));
    CHECK(d == r->code_kind);
    CHECK(code == r->code);
  }
}

TEST_CASE("code names are parsed case-insensitively, numbers and aliases too", "[names]") {
  CodeKind d{};
  int code = 0;
  REQUIRE(sd::code_from_name("econnreset", &d, &code));
  CHECK(d == CodeKind::errno_code);
  CHECK(code == ECONNRESET);
  REQUIRE(sd::code_from_name("Eai_Again", &d, &code));
  CHECK(d == CodeKind::gai);
  CHECK(code == EAI_AGAIN);
  REQUIRE(sd::code_from_name("eof", &d, &code));
  CHECK(d == CodeKind::event);
  CHECK(code == sd::ev_eof);
  REQUIRE(sd::code_from_name("POLLHUP", &d, &code));
  CHECK(code == sd::ev_pollhup);
  REQUIRE(sd::code_from_name("pollerr", &d, &code));
  CHECK(code == sd::ev_pollerr);

  REQUIRE(sd::code_from_name("104", &d, &code));
  CHECK(d == CodeKind::errno_code);
  CHECK(code == ECONNRESET);
  REQUIRE(sd::code_from_name("-3", &d, &code));
  CHECK(d == CodeKind::gai);
  CHECK(code == EAI_AGAIN);

  REQUIRE(sd::code_from_name("EWOULDBLOCK", &d, &code));
  CHECK(d == CodeKind::errno_code);
  CHECK(code == EAGAIN);
  CHECK(std::string(sd::code_name(CodeKind::errno_code, EWOULDBLOCK)) == "EAGAIN");
  REQUIRE(sd::code_from_name("enotsup", &d, &code));
  CHECK(code == EOPNOTSUPP);

  // Errnos the table has no row for still have names, from glibc.
  REQUIRE(sd::code_from_name("ENOTBLK", &d, &code));
  CHECK(d == CodeKind::errno_code);
  CHECK(code == ENOTBLK);
  CHECK(std::string(sd::code_name(CodeKind::errno_code, ENOTBLK)) == "ENOTBLK");
}

TEST_CASE("unknown code names are rejected", "[names]") {
  for (const char* bad : {"", "E", "ECONNRESETX", "XECONNRESET", "EAI_", "EAI_AGAINN", "POLLIN", "EOF2",
                          "0", "-0", "99999", "-999", "104x", " 104", "104 ", "-", "--3", "+104",
                          "99999999999999999999", "connection reset"}) {
    INFO("'" << bad << "'");
    CodeKind d = CodeKind::event;
    int code = 12345;
    CHECK_FALSE(sd::code_from_name(bad, &d, &code));
    CHECK(code == 12345);
  }
  CHECK(std::string(sd::code_name(CodeKind::errno_code, 99999)) == "unknown");
  CHECK(std::string(sd::code_name(CodeKind::event, 99)) == "unknown");
}

TEST_CASE("code messages exist for every code and match libc", "[names]") {
  for (const Explanation* r : all_rows()) {
    INFO(describe(r));
    REQUIRE(sd::code_message(r->code_kind, r->code) != nullptr);
    CHECK(std::strlen(sd::code_message(r->code_kind, r->code)) > 0);
  }
  for (int code : kRequiredErrnos) {
    CHECK(std::string(sd::code_message(CodeKind::errno_code, code)) == strerrordesc_np(code));
  }
  for (int code : kAllGai) {
    INFO("EAI code " << code);
    if (code == EAI_OVERFLOW) continue;  // glibc has no text of its own for it
    CHECK(std::string(sd::code_message(CodeKind::gai, code)) == gai_strerror(code));
  }
  CHECK(std::strlen(sd::code_message(CodeKind::gai, EAI_OVERFLOW)) > 0);
  CHECK(std::strlen(sd::code_message(CodeKind::errno_code, 99999)) > 0);
  CHECK(std::strlen(sd::code_message(CodeKind::gai, -999)) > 0);
  CHECK(std::strlen(sd::code_message(CodeKind::event, 99)) > 0);
}

TEST_CASE("level names", "[names]") {
  CHECK(std::string(sd::level_name(Level::off)) == "off");
  CHECK(std::string(sd::level_name(Level::error)) == "error");
  CHECK(std::string(sd::level_name(Level::info)) == "info");
  CHECK(std::string(sd::level_name(Level::debug)) == "debug");
  CHECK(std::string(sd::level_name(Level::trace)) == "trace");
}

TEST_CASE("call class names round-trip, libc names map to their class", "[names]") {
  for (int i = 0; i <= static_cast<int>(CallClass::fdops); ++i) {
    auto c = static_cast<CallClass>(i);
    CallClass parsed = CallClass::any;
    INFO(sd::call_class_name(c));
    REQUIRE(sd::call_class_from_name(sd::call_class_name(c), &parsed));
    CHECK(parsed == c);
  }
  const std::vector<std::pair<const char*, CallClass>> libc = {
      {"recv", CallClass::recv},         {"recvfrom", CallClass::recv},   {"recvmsg", CallClass::recv},
      {"recvmmsg", CallClass::recv},     {"read", CallClass::recv},       {"readv", CallClass::recv},
      {"__recv_chk", CallClass::recv},   {"send", CallClass::send},       {"sendto", CallClass::send},
      {"sendmsg", CallClass::send},      {"sendmmsg", CallClass::send},   {"write", CallClass::send},
      {"writev", CallClass::send},       {"accept", CallClass::accept},   {"accept4", CallClass::accept},
      {"getaddrinfo", CallClass::dns},   {"poll", CallClass::poll},       {"ppoll", CallClass::poll},
      {"select", CallClass::poll},       {"pselect", CallClass::poll},    {"epoll_wait", CallClass::poll},
      {"epoll_pwait", CallClass::poll},  {"getsockopt", CallClass::sockopt}, {"setsockopt", CallClass::sockopt},
      {"socket", CallClass::socket},     {"socketpair", CallClass::socket}, {"dup", CallClass::fdops},
      {"dup2", CallClass::fdops},        {"dup3", CallClass::fdops},      {"fcntl", CallClass::fdops},
      {"close_range", CallClass::fdops}, {"close", CallClass::close},     {"shutdown", CallClass::shutdown},
      {"connect", CallClass::connect},   {"bind", CallClass::bind},       {"listen", CallClass::listen},
      {"RECVFROM", CallClass::recv},     {"Connect", CallClass::connect},
  };
  for (const auto& [name, expected] : libc) {
    INFO(name);
    CallClass parsed = CallClass::any;
    REQUIRE(sd::call_class_from_name(name, &parsed));
    CHECK(parsed == expected);
  }
  for (const char* bad : {"", "recvx", "sendfilex", "connect ", "ioctl", "any2"}) {
    INFO("'" << bad << "'");
    CallClass parsed = CallClass::bind;
    CHECK_FALSE(sd::call_class_from_name(bad, &parsed));
    CHECK(parsed == CallClass::bind);
  }
  CHECK(std::string(sd::call_class_name(static_cast<CallClass>(200))) == "unknown");
  CHECK(std::string(sd::level_name(static_cast<Level>(200))) == "unknown");
}
