// Address, time and record formatting (shim/core/record.cpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "addr_text.h"
#include "record.h"

using namespace sd;

namespace {
std::string addr_text(const sockaddr* a, socklen_t len) {
  char buf[128];
  return format_addr(a, len, buf, sizeof(buf));
}

// A refused connect on fd `fd`, the fields every record has set; each test
// adds the ones it is about.
RecordData refused_connect(long pid, int fd, std::string_view prog, std::string_view kind) {
  RecordData r;
  r.pid = pid;
  r.tid = pid;
  r.prog = prog;
  r.call = "connect";
  r.fd = fd;
  r.kind = kind;
  r.code = 111;
  r.code_name = "ECONNREFUSED";
  r.message = "Connection refused";
  return r;
}

std::string duration_text(uint64_t ns) {
  LineBuffer b;
  format_duration(ns, b);
  return std::string(b.view());
}

// `s` as one of LineBuffer's escaping appends writes it.
std::string escaped(void (LineBuffer::*append)(std::string_view), std::string_view s) {
  LineBuffer b;
  (b.*append)(s);
  return std::string(b.view());
}

std::string text_line(const RecordData& r) {
  LineBuffer b;
  RecordCache cache;
  format_record(r, Format::text, cache, b);
  return std::string(b.view());
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
  auto d = duration_text;
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
  fill_template("{call} on fd {fd} to {peer}: {sent}/{received} after {age}; {unknown} {", r, Format::text, b);
  CHECK(b.view() == "connect on fd 7 to 127.0.0.1:9: 10/20 after 1.5 ms; {unknown} {");
  b.clear();
  RecordData empty;
  fill_template("{peer} / {host}", empty, Format::text, b);
  CHECK(b.view() == "the peer / \"\" (an empty name)");
}

TEST_CASE("a kept template is filled again when a value it names changes", "[record]") {
  static const char kTemplate[] = "Nothing listens on {peer} (fd {fd}).";
  static const char kAged[] = "open for {age}";
  RecordData r;
  r.peer = "127.0.0.1:9";
  r.fd = 3;
  FilledText kept;
  LineBuffer b;
  auto fill = [&](const char* text) {
    b.clear();
    fill_template_kept(text, r, Format::text, kept, b);
    return std::string(b.view());
  };
  CHECK(fill(kTemplate) == "Nothing listens on 127.0.0.1:9 (fd 3).");
  CHECK(kept.tmpl == kTemplate);
  r.host = "unnamed.example";  // not named by the template: the kept text serves
  CHECK(fill(kTemplate) == "Nothing listens on 127.0.0.1:9 (fd 3).");
  r.peer = "127.0.0.1:10";
  CHECK(fill(kTemplate) == "Nothing listens on 127.0.0.1:10 (fd 3).");
  r.fd = 4;
  CHECK(fill(kTemplate) == "Nothing listens on 127.0.0.1:10 (fd 4).");
  b.clear();
  fill_template_kept(kTemplate, r, Format::json, kept, b);
  CHECK(b.view() == "Nothing listens on 127.0.0.1:10 (fd 4).");
  CHECK(kept.format == Format::json);
  r.age_ns = 5000;
  CHECK(fill(kAged) == "open for 5 us");
  CHECK(kept.tmpl == nullptr);  // {age} changes with every record: never kept
  r.age_ns = 7000;
  CHECK(fill(kAged) == "open for 7 us");
  r.peer = std::string_view("a peer longer than the 64 bytes a kept value may have .................");
  CHECK(fill(kTemplate).find("a peer longer") != std::string::npos);
  CHECK(kept.tmpl == nullptr);
}

TEST_CASE("a text record holds every field on one line", "[record]") {
  RecordData r = refused_connect(42, 5, "curl", "tcp4");
  r.tid = 43;
  r.local = "127.0.0.1:4000";
  r.peer = "127.0.0.1:9";
  r.explanation = "Nothing listens.";
  r.advice = "Start it.";
  r.via = "SO_ERROR";
  r.have_history = true;
  r.sent = 1;
  r.received = 2;
  CHECK(text_line(r) ==
        "sockdiag 1970-01-01T00:00:00.000000Z curl[42/43] error connect fd=5 tcp4 127.0.0.1:4000 -> 127.0.0.1:9 = -1 "
        "ECONNREFUSED(111) \"Connection refused\" via SO_ERROR: Nothing listens. Try: Start it. [connection: sent 1 B, "
        "received 2 B, age 0 us]\n");
}

TEST_CASE("an inherited connection's history is said to start with the process", "[record]") {
  RecordData r = refused_connect(42, 0, "git", "tcp4");
  r.tid = 42;
  r.have_history = true;
  r.inherited = true;
  r.received = 29;
  r.age_ns = 300000000;
  LineBuffer b;
  fill_template("after {age}, with {received} received", r, Format::text, b);
  CHECK(b.view() == "after 300.0 ms since this process started, with 29 received");
  CHECK(text_line(r).find("[connection: sent 0 B, received 29 B, age 300.0 ms since this process started]") !=
        std::string::npos);
  RecordCache cache;
  format_record(r, Format::json, cache, b);
  CHECK(b.view().find(",\"age_ms\":300.000,\"inherited\":true") != std::string_view::npos);
  r.inherited = false;
  format_record(r, Format::json, cache, b);
  CHECK(b.view().find("inherited") == std::string_view::npos);
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
  RecordCache cache;
  format_record(r, Format::json, cache, b);
  std::string line(b.view());
  REQUIRE(line.back() == '\n');
  CHECK(line.find("\"prog\":\"we\\\"ird\\nname\"") != std::string::npos);
  CHECK(line.rfind("{\"v\":1,\"ts\":", 0) == 0);  // the schema version first (docs/record.schema.json)
  for (const char* key : {"v", "ts", "pid", "tid", "prog", "call", "fd", "kind", "local", "peer", "ret", "errno", "code",
                          "message", "explanation", "injected", "retries", "rule"})
    CHECK(line.find(std::string("\"") + key + "\":") != std::string::npos);
  CHECK(line.find("\"injected\":true") != std::string::npos);
  CHECK(line.find("\"errno\":104") != std::string::npos);
}

TEST_CASE("JSON escapes the values filled into an explanation, not only the fields", "[record]") {
  RecordData r;
  r.call = "connect";
  r.code = 111;
  r.code_name = "ECONNREFUSED";
  r.peer = "/run/we\"ird\nsock";
  r.explanation = "Nothing listens on {peer}.";
  r.advice = "Check {peer} ({call}).";
  LineBuffer b;
  RecordCache cache;
  format_record(r, Format::json, cache, b);
  std::string line(b.view());
  CHECK(line.find("\"explanation\":\"Nothing listens on /run/we\\\"ird\\nsock.\"") != std::string::npos);
  CHECK(line.find("\"advice\":\"Check /run/we\\\"ird\\nsock (connect).\"") != std::string::npos);
  b.clear();
  format_record(r, Format::text, cache, b);
  CHECK(std::string(b.view()).find(": Nothing listens on /run/we\"ird\\nsock. Try: Check /run/we\"ird\\nsock (connect).") !=
        std::string::npos);
}

TEST_CASE("an injected failure's explanation says so first, a notice's does not", "[record]") {
  RecordData r;
  r.call = "recv";
  r.code = 104;
  r.code_name = "ECONNRESET";
  r.injected = true;
  r.rule = "recv:error=ECONNRESET";
  r.explanation = "The peer reset it.";
  LineBuffer b;
  RecordCache cache;
  for (Format format : {Format::text, Format::json}) {
    b.clear();
    format_record(r, format, cache, b);
    CHECK(std::string(b.view()).find("Injected by a sockdiag rule. When real: The peer reset it.") != std::string::npos);
  }
  r.code_kind = CodeKind::event;
  r.code = ev_injected_delay;
  r.explanation = "A rule held this call back.";
  b.clear();
  format_record(r, Format::text, cache, b);
  CHECK(std::string(b.view()).find(": A rule held this call back.") != std::string::npos);
  CHECK(std::string(b.view()).find("When real") == std::string::npos);
}

TEST_CASE("a record longer than the buffer is cut but still ends its line", "[record]") {
  std::string long_text(LineBuffer::kCapacity * 2, 'x');
  RecordData r;
  r.explanation = long_text.c_str();
  LineBuffer b;
  RecordCache cache;
  format_record(r, Format::text, cache, b);
  CHECK(b.truncated());
  CHECK(b.view().size() <= LineBuffer::kCapacity + 1);
  CHECK(b.view().back() == '\n');
  CHECK(b.view().find("…\n") != std::string_view::npos);
}

namespace {
std::string ipv6_text(const in6_addr& a) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(8080);
  in6.sin6_addr = a;
  return addr_text(reinterpret_cast<sockaddr*>(&in6), sizeof(in6));
}

std::string ntop_text(const in6_addr& a) {
  char ip[INET6_ADDRSTRLEN];
  REQUIRE(inet_ntop(AF_INET6, &a, ip, sizeof(ip)) != nullptr);
  return std::string("[") + ip + "]:8080";
}
}  // namespace

TEST_CASE("IPv6 text is inet_ntop's for every pattern of zero groups", "[record]") {
  // Which groups are zero decides where "::" goes: all 256 patterns, with
  // small and large group values.
  for (unsigned pattern = 0; pattern < 256; ++pattern) {
    for (unsigned value : {0x1u, 0xabcu, 0xffffu}) {
      in6_addr a{};
      for (int g = 0; g < 8; ++g) {
        if (pattern & (1u << g)) {
          a.s6_addr[2 * g] = static_cast<uint8_t>(value >> 8);
          a.s6_addr[2 * g + 1] = static_cast<uint8_t>(value);
        }
      }
      CHECK(ipv6_text(a) == ntop_text(a));
    }
  }
  // IPv4-compatible and IPv4-mapped addresses end in dotted IPv4.
  for (const char* text : {"::ffff:10.0.0.1", "::1.2.3.4", "::ffff:0.0.0.0", "::ffff:0:1.2.3.4", "64:ff9b::1.2.3.4"}) {
    in6_addr a{};
    REQUIRE(inet_pton(AF_INET6, text, &a) == 1);
    CHECK(ipv6_text(a) == ntop_text(a));
  }
}

TEST_CASE("IPv4 bytes and ports are written without leading zeros", "[record]") {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  for (const char* ip : {"0.0.0.0", "10.9.99.100", "255.255.255.255", "1.20.201.7"}) {
    for (uint16_t port : {0, 9, 80, 65535}) {
      inet_pton(AF_INET, ip, &in.sin_addr);
      in.sin_port = htons(port);
      CHECK(addr_text(reinterpret_cast<sockaddr*>(&in), sizeof(in)) == std::string(ip) + ":" + std::to_string(port));
    }
  }
}

TEST_CASE("every kind of address is cut to the output buffer, never past it", "[record]") {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(443);
  inet_pton(AF_INET6, "2001:db8::ffff:1.2.3.4", &in6.sin6_addr);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(65535);
  inet_pton(AF_INET, "255.255.255.255", &in.sin_addr);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/run/some/longer/path.sock");
  sockaddr_un ab{};
  ab.sun_family = AF_UNIX;
  std::memcpy(ab.sun_path, "\0abstract-name", 14);
  sockaddr other{};
  other.sa_family = AF_APPLETALK;
  struct Case {
    const sockaddr* addr;
    socklen_t len;
  };
  for (Case c : {Case{reinterpret_cast<sockaddr*>(&in6), sizeof(in6)},
                 Case{reinterpret_cast<sockaddr*>(&in), sizeof(in)}, Case{reinterpret_cast<sockaddr*>(&un), sizeof(un)},
                 Case{reinterpret_cast<sockaddr*>(&ab), static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 14)},
                 Case{&other, sizeof(other)}}) {
    std::string full = addr_text(c.addr, c.len);
    REQUIRE(!full.empty());
    for (std::size_t cap = 1; cap <= full.size() + 2; ++cap) {
      char buf[80];
      std::memset(buf, 'Z', sizeof(buf));
      format_addr(c.addr, c.len, buf, cap);
      CHECK(std::string(buf) == full.substr(0, cap - 1));
      CHECK(buf[cap] == 'Z');
    }
  }
}

TEST_CASE("a cached time stamp is the one computed afresh, within a second or across", "[record]") {
  TimeCache cache;
  const int64_t base = int64_t{1795823941} * 1000000000;
  const int64_t day = int64_t{86400} * 1000000000;
  for (int64_t t : {base, base + 999999999, base + 1000000000, base + 5, base - 1, base - day, base + 36600 * day,
                    int64_t{0}, int64_t{-1}, base}) {
    LineBuffer cached, fresh;
    format_time(t, cache, cached);
    format_time(t, fresh);
    CHECK(cached.view() == fresh.view());
  }
}

TEST_CASE("time stamps before 1970 round down to the microsecond before", "[record]") {
  LineBuffer b;
  format_time(-1, b);
  CHECK(b.view() == "1969-12-31T23:59:59.999999Z");
  b.clear();
  format_time(-int64_t{1000000000} - 1000, b);
  CHECK(b.view() == "1969-12-31T23:59:58.999999Z");
}

TEST_CASE("integers are written as fmt writes them, extremes included", "[record]") {
  auto put_text = [](auto v) {
    LineBuffer b;
    b.put(v);
    return std::string(b.view());
  };
  for (long long v : {LLONG_MIN, LLONG_MIN + 1, -4294967296LL, -4294967295LL, -100LL, -10LL, -9LL, -1LL, 0LL, 9LL, 10LL,
                      99LL, 100LL, 4294967295LL, 4294967296LL, LLONG_MAX})
    CHECK(put_text(v) == fmt::format("{}", v));
  for (unsigned long long v : {0ULL, 9ULL, 10ULL, 4294967295ULL, 4294967296ULL, ULLONG_MAX})
    CHECK(put_text(v) == fmt::format("{}", v));
  CHECK(put_text(INT_MIN) == "-2147483648");
  CHECK(put_text(static_cast<short>(-5)) == "-5");
  CHECK(put_text(static_cast<unsigned char>(200)) == "200");
}

TEST_CASE("pieces near the end of the buffer are cut there, never written past it", "[record]") {
  const std::string pieces = " fd=12345 tcp4 -1 18446744073709551615";
  for (std::size_t fill = LineBuffer::kCapacity - pieces.size() - 2; fill <= LineBuffer::kCapacity; ++fill) {
    LineBuffer b;
    b.append(std::string(fill, 'x'));
    b.put(" fd=", 12345, ' ', std::string_view("tcp4"), ' ', -1, ' ', UINT64_MAX);
    std::string expected = (std::string(fill, 'x') + pieces).substr(0, LineBuffer::kCapacity);
    CHECK(b.view() == expected);
    CHECK(b.truncated() == (fill + pieces.size() > LineBuffer::kCapacity));
  }
}

TEST_CASE("a pid or tid kept as text follows its value", "[record]") {
  DecimalCache pid;
  CHECK(pid.text(42) == "42");
  CHECK(pid.text(42) == "42");
  CHECK(pid.text(4242) == "4242");
  CHECK(pid.text(0) == "0");
  CHECK(pid.text(-7) == "-7");

  // A forked child writes with its parent's cache: its records carry its own pid.
  RecordData r;
  r.prog = "p";
  r.pid = 100;
  r.tid = 100;
  RecordCache cache;
  LineBuffer b;
  format_record(r, Format::text, cache, b);
  CHECK(b.view().find(" p[100/100] ") != std::string_view::npos);
  r.pid = 101;
  r.tid = 101;
  format_record(r, Format::text, cache, b);
  CHECK(b.view().find(" p[101/101] ") != std::string_view::npos);
  format_record(r, Format::json, cache, b);
  CHECK(b.view().find("\"pid\":101,\"tid\":101,") != std::string_view::npos);
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters, and keep UTF-8", "[record]") {
  LineBuffer b;
  b.append_json_string("a\"b\\c\nd\re\tf\x01g\x1fh…");
  CHECK(b.view() == "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh…\"");
  b.clear();
  b.append_json_string("");
  CHECK(b.view() == "\"\"");
}

TEST_CASE("JSON strings replace bytes that are not UTF-8, and keep every well-formed sequence", "[record]") {
  auto json = [](std::string_view s) { return escaped(&LineBuffer::append_json_escaped, s); };
  // Well-formed: 2, 3 and 4 bytes, the first and last of each length, C1 controls.
  for (const char* ok : {"\xc2\x80", "\xc2\x9b", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                         "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9"})
    CHECK(json(ok) == ok);
  // Ill-formed: stray continuation, overlong, surrogate, past U+10FFFF,
  // cut short, lead bytes that never start a sequence. One U+FFFD a byte.
  CHECK(json("a\x80z") == "a\\ufffdz");
  CHECK(json("\xc0\xaf") == "\\ufffd\\ufffd");
  CHECK(json("\xe0\x80\xaf") == "\\ufffd\\ufffd\\ufffd");
  CHECK(json("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd");
  CHECK(json("\xf4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd");
  CHECK(json("\xf5\x80") == "\\ufffd\\ufffd");
  CHECK(json("\xff") == "\\ufffd");
  CHECK(json("x\xe2\x80") == "x\\ufffd\\ufffd");
  CHECK(json("\x7f") == "\\u007f");
  // The same found past the first 16-byte window, and in its overlapping last one.
  CHECK(json(std::string(20, 'a') + "\xff" + std::string(20, 'b')) ==
        std::string(20, 'a') + "\\ufffd" + std::string(20, 'b'));
  CHECK(json(std::string(17, 'a') + "\xe2\x80\xa6") == std::string(17, 'a') + "\xe2\x80\xa6");
}

TEST_CASE("text values escape what would split the line or reach the terminal", "[record]") {
  auto text = [](std::string_view s) { return escaped(&LineBuffer::append_text_escaped, s); };
  CHECK(text("/run/app.sock") == "/run/app.sock");
  CHECK(text("caf\xc3\xa9 \xe2\x80\xa6") == "caf\xc3\xa9 \xe2\x80\xa6");
  CHECK(text("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(text("\x1b[31mred") == "\\x1b[31mred");
  CHECK(text(std::string_view("nul\0x", 5)) == "nul\\x00x");
  CHECK(text("back\\slash \"quote\"") == "back\\\\slash \"quote\"");
  CHECK(text("\x7f") == "\\x7f");
  CHECK(text("\xc2\x9b" "2J") == "\\xc2\\x9b2J");  // C1 CSI: some terminals act on it
  CHECK(text("\xff\xfe") == "\\xff\\xfe");
  CHECK(text("\xe2\x80") == "\\xe2\\x80");
}

TEST_CASE("an inert message keeps its backslashes and escapes the rest as text does", "[record]") {
  LineBuffer b;
  b.append_inert("found \"EBAD\\x1b\" \x1b[2J\nnext \xc2\x9b \xff caf\xc3\xa9");
  CHECK(b.view() == "found \"EBAD\\x1b\" \\x1b[2J\\nnext \\xc2\\x9b \\xff caf\xc3\xa9");
}

TEST_CASE("a text record from a hostile program name, path and host stays one inert line", "[record]") {
  RecordData r = refused_connect(7, 3, "evil\nsockdiag 1970 fake[1/1] error", "unix-stream");
  r.local = "?";
  r.peer = "/tmp/s\x1b]0;title\x07\n";
  r.host = "h\rx";
  r.explanation = "Nothing listens on {peer}.";
  r.injected = true;
  r.rule = "connect:peer=\"/tmp/s\n\":error=ECONNREFUSED";
  std::string line = text_line(r);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  for (char c : line.substr(0, line.size() - 1)) CHECK(static_cast<unsigned char>(c) >= 0x20);
  CHECK(line.find(" evil\\nsockdiag 1970 fake[1/1] error[7/7] ") != std::string::npos);
  CHECK(line.find(" ? -> /tmp/s\\x1b]0;title\\x07\\n host=h\\rx ") != std::string::npos);
  CHECK(line.find("Nothing listens on /tmp/s\\x1b]0;title\\x07\\n.") != std::string::npos);
  CHECK(line.find("[injected by 'connect:peer=\"/tmp/s\\n\":error=ECONNREFUSED']") != std::string::npos);
}

TEST_CASE("a JSON record too long for a line clips the values from outside and still parses", "[record]") {
  // The worst values each field can hold: argv[0] without bound, addresses
  // and names as long as the library keeps them (127 bytes), every byte one
  // that takes a six-byte escape. Under every row of the table, with every
  // placeholder in it filled, the record must fit whole.
  std::string prog(5000, '\x01'), addr(127, '\x01'), rule(300, '\x01');
  std::size_t count = 0;
  const Explanation* rows = explanation_rows(&count);
  for (std::size_t i = 0; i < count; ++i) {
    RecordData r;
    r.prog = prog;
    r.call = "getaddrinfo";
    r.kind = "unix-seqpacket";
    r.local = addr;
    r.peer = addr;
    r.host = addr;
    r.code = 111;
    r.code_name = rows[i].name;
    r.message = "Connection refused";
    r.explanation = rows[i].text;
    r.advice = rows[i].advice;
    r.via = "SO_ERROR at close";
    r.injected = true;
    r.rule = rule;
    r.retries = 1000;
    r.retrying = true;
    r.waited_ns = UINT64_MAX;
    r.note = "Injected: the peer is treated as gone.";
    r.have_history = true;
    r.inherited = true;
    r.sent = r.received = r.age_ns = r.peer_gone_ago_ns = UINT64_MAX;
    LineBuffer b;
    RecordCache cache;
    format_record(r, Format::json, cache, b);
    INFO(rows[i].name << ": " << rows[i].text);
    CHECK_FALSE(b.truncated());
    CHECK(b.view().substr(b.view().size() - 17) == ",\"clipped\":true}\n");
  }
  // A record that fits is written whole, without the mark.
  RecordData r;
  r.prog = std::string_view(prog).substr(0, 100);
  LineBuffer b;
  RecordCache cache;
  format_record(r, Format::json, cache, b);
  std::string whole = "\"prog\":\"";
  for (int n = 0; n < 100; ++n) whole += "\\u0001";
  CHECK(b.view().find(whole + "\"") != std::string_view::npos);
  CHECK(b.view().find("clipped") == std::string_view::npos);
}

TEST_CASE("a record cut in the middle of a UTF-8 character drops the part", "[record]") {
  // Explanations past the buffer, ending the kept part at every byte of a
  // 2-, 3- and 4-byte character: what is kept is whole characters only.
  for (std::string_view ch : {std::string_view("\xc3\xa9"), std::string_view("\xe2\x80\xa6"),
                              std::string_view("\xf0\x9f\x94\x8c")}) {
    for (std::size_t shift = 0; shift < ch.size(); ++shift) {
      std::string text(shift, 'x');
      while (text.size() < 2 * LineBuffer::kCapacity) text += ch;
      RecordData r;
      r.explanation = text.c_str();
      LineBuffer b;
      RecordCache cache;
      format_record(r, Format::json, cache, b);
      std::string line(b.view());
      REQUIRE(line.size() > 4);
      std::string kept = line.substr(0, line.size() - 4);  // without "…\n"
      CHECK(line.substr(line.size() - 4) == "\xe2\x80\xa6\n");
      LineBuffer check;
      check.append_json_escaped(kept);
      CHECK(std::string(check.view()).find("\\ufffd") == std::string::npos);
    }
  }
}

TEST_CASE("braces that open no placeholder stay as written", "[record]") {
  RecordData r;
  r.peer = "127.0.0.1:9";
  r.fd = 7;
  auto fill = [&r](const char* text) {
    LineBuffer b;
    fill_template(text, r, Format::text, b);
    return std::string(b.view());
  };
  CHECK(fill("{") == "{");
  CHECK(fill("}") == "}");
  CHECK(fill("{}") == "{}");
  CHECK(fill("{{peer}}") == "{127.0.0.1:9}");
  CHECK(fill("{ peer}") == "{ peer}");
  CHECK(fill("{PEER}") == "{PEER}");
  CHECK(fill("{receivedx} {fd}") == "{receivedx} 7");
  CHECK(fill("{a-much-longer-name} {fd}") == "{a-much-longer-name} 7");
  CHECK(fill("x{peer") == "x{peer");
  CHECK(fill("{fd}{fd}") == "77");
}

TEST_CASE("durations past a millisecond keep one decimal, JSON milliseconds three", "[record]") {
  auto d = duration_text;
  CHECK(d(999999) == "999 us");
  CHECK(d(1000000) == "1.0 ms");
  CHECK(d(999999999) == "1000.0 ms");
  CHECK(d(59999999999ull) == "60.0 s");
  CHECK(d(60000000000ull) == "1 min 0 s");
  CHECK(d(UINT64_MAX) == "307445734 min 33 s");

  RecordData r;
  r.have_history = true;
  r.age_ns = 1234567;
  r.retrying = true;
  r.waited_ns = UINT64_MAX;
  LineBuffer b;
  RecordCache cache;
  format_record(r, Format::json, cache, b);
  CHECK(b.view().find("\"age_ms\":1.235") != std::string_view::npos);
  // 18446744073709551615 ns is 18446744073709.551615 ms: rounded in integers,
  // exactly (a double has no digits left for the third decimal there).
  CHECK(b.view().find("\"waited_ms\":18446744073709.552,") != std::string_view::npos);
}
