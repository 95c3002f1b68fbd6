// Formatting of records (see record.h).
#include "record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace sd {

void LineBuffer::append(std::string_view s) {
  std::size_t room = kCapacity - len_;
  std::size_t n = s.size() < room ? s.size() : room;
  if (n < s.size()) truncated_ = true;
  std::memcpy(buf_ + len_, s.data(), n);
  len_ += n;
}

void LineBuffer::append_char(char c) {
  if (len_ < kCapacity) buf_[len_++] = c;
  else truncated_ = true;
}

void LineBuffer::append_json_string(std::string_view s) {
  append_char('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': append("\\\""); break;
      case '\\': append("\\\\"); break;
      case '\n': append("\\n"); break;
      case '\r': append("\\r"); break;
      case '\t': append("\\t"); break;
      default:
        if (c < 0x20) appendf(FMT_COMPILE("\\u{:04x}"), static_cast<unsigned>(c));
        else append_char(static_cast<char>(c));
    }
  }
  append_char('"');
}

void LineBuffer::finish_line() {
  static constexpr std::string_view kCut = "…";
  if (truncated_ || len_ == kCapacity) {
    // Keep room for the mark and the newline; a cut JSON record still ends
    // the line, so that the next record starts on its own line.
    std::size_t keep = kCapacity - kCut.size() - 1;
    if (len_ > keep) len_ = keep;
    std::memcpy(buf_ + len_, kCut.data(), kCut.size());
    len_ += kCut.size();
  }
  buf_[len_++] = '\n';
}

char* format_addr(const sockaddr* addr, socklen_t len, char* out, std::size_t cap) {
  if (cap == 0) return out;
  out[0] = '\0';
  if (!addr || len < sizeof(sa_family_t)) return out;
  char ip[INET6_ADDRSTRLEN];
  switch (addr->sa_family) {
    case AF_INET: {
      if (len < sizeof(sockaddr_in)) break;
      auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      // Not inet_ntop: glibc's goes through sprintf, the bulk of a record's cost.
      const auto* b = reinterpret_cast<const unsigned char*>(&in->sin_addr);
      *fmt::format_to_n(out, cap - 1, FMT_COMPILE("{}.{}.{}.{}:{}"), b[0], b[1], b[2], b[3], ntohs(in->sin_port)).out =
          '\0';
      break;
    }
    case AF_INET6: {
      if (len < sizeof(sockaddr_in6)) break;
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
      *fmt::format_to_n(out, cap - 1, FMT_COMPILE("[{}]:{}"), ip, ntohs(in6->sin6_port)).out = '\0';
      break;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      std::size_t path_len = len - offsetof(sockaddr_un, sun_path);
      if (len <= offsetof(sockaddr_un, sun_path)) {
        *fmt::format_to_n(out, cap - 1, FMT_COMPILE("unnamed")).out = '\0';
      } else if (un->sun_path[0] == '\0') {
        // Abstract namespace: the name is the bytes after the NUL, not a C string.
        std::string_view name(un->sun_path + 1, path_len - 1);
        *fmt::format_to_n(out, cap - 1, FMT_COMPILE("@{}"), name).out = '\0';
      } else {
        std::string_view path(un->sun_path, strnlen(un->sun_path, path_len));
        *fmt::format_to_n(out, cap - 1, FMT_COMPILE("{}"), path).out = '\0';
      }
      break;
    }
    default:
      *fmt::format_to_n(out, cap - 1, FMT_COMPILE("family {}"), addr->sa_family).out = '\0';
  }
  return out;
}

void format_time(int64_t wall_ns, LineBuffer& out) {
  // gmtime_r takes glibc's time zone lock: a child forked while another
  // thread held it would deadlock here. Civil date from days instead
  // (H. Hinnant's days_from_civil inverse).
  int64_t secs = wall_ns / 1000000000;
  int64_t micros = (wall_ns % 1000000000) / 1000;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) { rem += 86400; --days; }
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  // Digits by hand: this runs for every record.
  char t[27];
  auto put = [&t](int at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) t[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  t[4] = '-';
  put(5, m, 2);
  t[7] = '-';
  put(8, d, 2);
  t[10] = 'T';
  put(11, rem / 3600, 2);
  t[13] = ':';
  put(14, rem / 60 % 60, 2);
  t[16] = ':';
  put(17, rem % 60, 2);
  t[19] = '.';
  put(20, micros, 6);
  t[26] = 'Z';
  out.append({t, sizeof(t)});
}

void format_duration(uint64_t ns, LineBuffer& out) {
  if (ns < 1000000) out.appendf(FMT_COMPILE("{} us"), ns / 1000);
  else if (ns < 1000000000) out.appendf(FMT_COMPILE("{:.1f} ms"), static_cast<double>(ns) / 1e6);
  else if (ns < 60ull * 1000000000) out.appendf(FMT_COMPILE("{:.1f} s"), static_cast<double>(ns) / 1e9);
  else out.appendf(FMT_COMPILE("{} min {} s"), ns / 60000000000ull, ns / 1000000000ull % 60);
}

void fill_template(const char* text, const RecordData& r, LineBuffer& out) {
  for (const char* p = text; *p;) {
    if (*p != '{') {
      const char* next = std::strchr(p, '{');
      std::size_t n = next ? static_cast<std::size_t>(next - p) : std::strlen(p);
      out.append({p, n});
      p += n;
      continue;
    }
    const char* close = std::strchr(p, '}');
    std::string_view key = close ? std::string_view(p + 1, static_cast<std::size_t>(close - p - 1)) : "";
    auto or_unknown = [](const char* s, const char* fallback) { return *s ? s : fallback; };
    if (key == "peer") out.append(or_unknown(r.peer, "the peer"));
    else if (key == "local") out.append(or_unknown(r.local, "the local address"));
    else if (key == "host") out.append(or_unknown(r.host, "the name"));
    else if (key == "fd") out.appendf(FMT_COMPILE("{}"), r.fd);
    else if (key == "call") out.append(r.call);
    else if (key == "sent") out.appendf(FMT_COMPILE("{}"), r.sent);
    else if (key == "received") out.appendf(FMT_COMPILE("{}"), r.received);
    else if (key == "age") format_duration(r.age_ns, out);
    else {
      out.append_char('{');  // not a placeholder: keep the brace as written
      ++p;
      continue;
    }
    p = close + 1;
  }
}

namespace {

void text_record(const RecordData& r, LineBuffer& out) {
  out.append("sockdiag ");
  format_time(r.wall_ns, out);
  out.appendf(FMT_COMPILE(" {}[{}/{}] {} {}"), r.prog, r.pid, r.tid, level_name(r.level), r.call);
  if (r.fd >= 0) out.appendf(FMT_COMPILE(" fd={}"), r.fd);
  if (*r.kind) out.appendf(FMT_COMPILE(" {}"), r.kind);
  if (*r.local || *r.peer) out.appendf(FMT_COMPILE(" {} -> {}"), *r.local ? r.local : "?", *r.peer ? r.peer : "?");
  if (*r.host) out.appendf(FMT_COMPILE(" host={}"), r.host);
  if (r.code == 0) {
    out.appendf(FMT_COMPILE(" = {}"), r.ret);
  } else if (r.notice) {
    out.appendf(FMT_COMPILE(" {}"), r.code_name);
  } else if (r.domain == Domain::event) {
    out.appendf(FMT_COMPILE(" = {} {}"), r.ret, r.code_name);
  } else {
    out.appendf(FMT_COMPILE(" = {} {}({}) \"{}\""), r.ret, r.code_name, r.code, r.message);
  }
  if (*r.via) out.appendf(FMT_COMPILE(" via {}"), r.via);
  if (r.injected) out.appendf(FMT_COMPILE(" [injected by '{}']"), r.rule);
  if (r.retrying) {
    out.appendf(FMT_COMPILE(" [retry {}, waited "), r.retries);
    format_duration(r.waited_ns, out);
    out.append_char(']');
  } else if (r.retries) {
    out.appendf(FMT_COMPILE(" [after {} retries]"), r.retries);
  }
  if (*r.explanation) {
    out.append(": ");
    out.append(r.explanation);
  }
  if (*r.advice) {
    out.append(" Try: ");
    out.append(r.advice);
  }
  if (*r.note) {
    out.append(" Note: ");
    out.append(r.note);
  }
  if (r.have_history) {
    out.appendf(FMT_COMPILE(" [connection: sent {} B, received {} B, age "), r.sent, r.received);
    format_duration(r.age_ns, out);
    if (r.peer_gone_ago_ns) {
      out.append("; peer seen gone ");
      format_duration(r.peer_gone_ago_ns, out);
      out.append(" before");
    }
    out.append_char(']');
  }
}

void json_record(const RecordData& r, LineBuffer& out) {
  out.append("{\"ts\":\"");
  format_time(r.wall_ns, out);
  out.appendf(FMT_COMPILE("\",\"pid\":{},\"tid\":{},\"prog\":"), r.pid, r.tid);
  out.append_json_string(r.prog);
  out.appendf(FMT_COMPILE(",\"level\":\"{}\",\"call\":\"{}\",\"fd\":{},\"kind\":"), level_name(r.level), r.call, r.fd);
  out.append_json_string(r.kind);
  out.append(",\"local\":");
  out.append_json_string(r.local);
  out.append(",\"peer\":");
  out.append_json_string(r.peer);
  out.append(",\"host\":");
  out.append_json_string(r.host);
  out.appendf(FMT_COMPILE(",\"ret\":{},\"errno\":{},\"code\":"), r.ret, r.domain == Domain::errno_code ? r.code : 0);
  out.append_json_string(r.code_name);
  out.append(",\"message\":");
  out.append_json_string(r.message);
  out.append(",\"explanation\":");
  out.append_json_string(r.explanation);
  out.append(",\"advice\":");
  out.append_json_string(r.advice);
  out.append(",\"via\":");
  out.append_json_string(r.via);
  out.appendf(FMT_COMPILE(",\"injected\":{},\"rule\":"), r.injected ? "true" : "false");
  out.append_json_string(r.rule);
  out.appendf(FMT_COMPILE(",\"retries\":{}"), r.retries);
  if (r.retrying) out.appendf(FMT_COMPILE(",\"retrying\":true,\"waited_ms\":{:.3f}"), static_cast<double>(r.waited_ns) / 1e6);
  if (*r.note) {
    out.append(",\"note\":");
    out.append_json_string(r.note);
  }
  if (r.have_history)
    out.appendf(FMT_COMPILE(",\"bytes_sent\":{},\"bytes_received\":{},\"age_ms\":{:.3f}"), r.sent, r.received,
                static_cast<double>(r.age_ns) / 1e6);
  if (r.peer_gone_ago_ns) out.appendf(FMT_COMPILE(",\"peer_gone_ms_ago\":{:.3f}"), static_cast<double>(r.peer_gone_ago_ns) / 1e6);
  out.append_char('}');
}

}  // namespace

void format_record(const RecordData& r, Format format, LineBuffer& out) {
  out.clear();
  if (format == Format::json) json_record(r, out);
  else text_record(r, out);
  out.finish_line();
}

}  // namespace sd
