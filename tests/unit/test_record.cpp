// Address, time and record formatting (shim/record.cpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "record.h"

using namespace sd;

namespace {
std::string addr_text(const sockaddr* a, socklen_t len) {
  char buf[128];
  return format_addr(a, len, buf, sizeof(buf));
}
}  // namespace

TEST_CASE("IPv4 and IPv6 addresses are written with their port", "[record]") {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(5432);
  inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
  CHECK(addr_text(reinterpret_cast<sockaddr*>(&in), sizeof(in)) == "127.0.0.1:5432");

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(443);
  inet_pton(AF_INET6, "::1", &in6.sin6_addr);
  CHECK(addr_text(reinterpret_cast<sockaddr*>(&in6), sizeof(in6)) == "[::1]:443");

  // A truncated length is not read past.
  CHECK(addr_text(reinterpret_cast<sockaddr*>(&in), 4).empty());
  CHECK(addr_text(nullptr, 0).empty());
}

TEST_CASE("unix addresses: path, abstract name, unnamed", "[record]") {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/run/app.sock");
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(un.sun_path) + 1);
  CHECK(addr_text(reinterpret_cast<sockaddr*>(&un), len) == "/run/app.sock");

  sockaddr_un ab{};
  ab.sun_family = AF_UNIX;
  std::memcpy(ab.sun_path, "\0svc\0x", 6);  // abstract names may hold NULs
  CHECK(addr_text(reinterpret_cast<sockaddr*>(&ab), offsetof(sockaddr_un, sun_path) + 4) == "@svc");

  CHECK(addr_text(reinterpret_cast<sockaddr*>(&un), sizeof(sa_family_t)) == "unnamed");
}

TEST_CASE("a small output buffer is never overrun", "[record]") {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(65535);
  inet_pton(AF_INET6, "fe80::1234:5678:9abc:def0", &in6.sin6_addr);
  char buf[12];
  std::memset(buf, 'Z', sizeof(buf));
  format_addr(reinterpret_cast<sockaddr*>(&in6), sizeof(in6), buf, 8);
  CHECK(std::strlen(buf) == 7);
  CHECK(buf[8] == 'Z');
}

TEST_CASE("time stamps are UTC ISO 8601 with microseconds", "[record]") {
  LineBuffer b;
  format_time(0, b);
  CHECK(b.view() == "1970-01-01T00:00:00.000000Z");
  b.clear();
  // 2026-11-27T23:59:01.123456Z, past a leap day (2024-02-29).
  format_time(int64_t{1795823941} * 1000000000 + 123456789, b);
  CHECK(b.view() == "2026-11-27T23:59:01.123456Z");
  b.clear();
  format_time(int64_t{951782400} * 1000000000, b);  // 2000-02-29
  CHECK(b.view() == "2000-02-29T00:00:00.000000Z");
}

TEST_CASE("durations read naturally", "[record]") {
  auto d = [](uint64_t ns) {
    LineBuffer b;
    format_duration(ns, b);
    return std::string(b.view());
  };
  CHECK(d(850000) == "850 us");
  CHECK(d(1200000) == "1.2 ms");
  CHECK(d(3400000000ull) == "3.4 s");
  CHECK(d(125000000000ull) == "2 min 5 s");
}

TEST_CASE("placeholders are filled from the record, other braces kept", "[record]") {
  RecordData r;
  r.peer = "127.0.0.1:9";
  r.fd = 7;
  r.call = "connect";
  r.sent = 10;
  r.received = 20;
  r.age_ns = 1500000;
  LineBuffer b;
  fill_template("{call} on fd {fd} to {peer}: {sent}/{received} after {age}; {unknown} {", r, b);
  CHECK(b.view() == "connect on fd 7 to 127.0.0.1:9: 10/20 after 1.5 ms; {unknown} {");
  b.clear();
  RecordData empty;
  fill_template("{peer} / {host}", empty, b);
  CHECK(b.view() == "the peer / the name");
}

TEST_CASE("a text record holds every field on one line", "[record]") {
  RecordData r;
  r.wall_ns = 0;
  r.pid = 42;
  r.tid = 43;
  r.prog = "curl";
  r.call = "connect";
  r.fd = 5;
  r.kind = "tcp4";
  r.local = "127.0.0.1:4000";
  r.peer = "127.0.0.1:9";
  r.code = 111;
  r.code_name = "ECONNREFUSED";
  r.message = "Connection refused";
  r.explanation = "Nothing listens.";
  r.advice = "Start it.";
  r.via = "SO_ERROR";
  r.have_history = true;
  r.sent = 1;
  r.received = 2;
  LineBuffer b;
  format_record(r, Format::text, b);
  std::string line(b.view());
  CHECK(line ==
        "sockdiag 1970-01-01T00:00:00.000000Z curl[42/43] error connect fd=5 tcp4 127.0.0.1:4000 -> 127.0.0.1:9 = -1 "
        "ECONNREFUSED(111) \"Connection refused\" via SO_ERROR: Nothing listens. Try: Start it. [connection: sent 1 B, "
        "received 2 B, age 0 us]\n");
}

TEST_CASE("a JSON record escapes strings and keeps the documented keys", "[record]") {
  RecordData r;
  r.prog = "we\"ird\nname";
  r.call = "recv";
  r.code = 104;
  r.code_name = "ECONNRESET";
  r.rule = "recv:error=ECONNRESET";
  r.injected = true;
  LineBuffer b;
  format_record(r, Format::json, b);
  std::string line(b.view());
  REQUIRE(line.back() == '\n');
  CHECK(line.find("\"prog\":\"we\\\"ird\\nname\"") != std::string::npos);
  for (const char* key : {"ts", "pid", "tid", "prog", "call", "fd", "kind", "local", "peer", "ret", "errno", "code",
                          "message", "explanation", "injected", "retries", "rule"})
    CHECK(line.find(std::string("\"") + key + "\":") != std::string::npos);
  CHECK(line.find("\"injected\":true") != std::string::npos);
  CHECK(line.find("\"errno\":104") != std::string::npos);
}

TEST_CASE("a record longer than the buffer is cut but still ends its line", "[record]") {
  std::string long_text(LineBuffer::kCapacity * 2, 'x');
  RecordData r;
  r.explanation = long_text.c_str();
  LineBuffer b;
  format_record(r, Format::text, b);
  CHECK(b.truncated());
  CHECK(b.view().size() <= LineBuffer::kCapacity + 1);
  CHECK(b.view().back() == '\n');
  CHECK(b.view().find("…\n") != std::string_view::npos);
}
