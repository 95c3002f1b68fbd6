#include "log_sink.h"

#include <syslog.h>

#include <cstdlib>
#include <vector>

#include "escape.h"
#include "usage.h"

namespace sdcli {

namespace {

struct Facility {
  const char* name;
  int value;
};
constexpr Facility kFacilities[] = {
    {"user", LOG_USER},     {"daemon", LOG_DAEMON}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV},
    {"mail", LOG_MAIL},     {"news", LOG_NEWS},     {"uucp", LOG_UUCP},     {"cron", LOG_CRON},
    {"syslog", LOG_SYSLOG}, {"lpr", LOG_LPR},       {"ftp", LOG_FTP},
};

constexpr const char* kAccepted =
    "accepted: journald, syslog[:FACILITY[:IDENT]], rotate:PATH[:SIZE[:COUNT]], daily:PATH, terminal, stderr or a "
    "file";

[[noreturn]] void refuse(const std::string& setting, const std::string& value, const std::string& why) {
  throw UsageError(setting + ": " + sd::quoted(value) + ": " + why + "; " + kAccepted);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  for (;;) {
    std::size_t colon = s.find(':', pos);
    parts.push_back(s.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
    if (colon == std::string::npos) return parts;
    pos = colon + 1;
  }
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// "10M", "64K", "4096": a size in bytes, at least one record's 4 KiB.
bool parse_size(const std::string& s, std::size_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  unsigned long long n = std::strtoull(s.c_str(), &end, 10);
  std::size_t shift = 0;
  if (*end == 'K') shift = 10, ++end;
  else if (*end == 'M') shift = 20, ++end;
  else if (*end == 'G') shift = 30, ++end;
  if (*end || n == 0 || n > (1ull << 40) >> shift) return false;
  *out = static_cast<std::size_t>(n << shift);
  return *out >= 4096;
}

}  // namespace

bool names_sink(const std::string& v) {
  return v == "journald" || v == "syslog" || v == "terminal" || starts_with(v, "syslog:") ||
         starts_with(v, "rotate:") || starts_with(v, "daily:");
}

LogSink parse_log_sink(const std::string& value, const std::string& setting) {
  LogSink sink;
  if (value == "journald") {
    sink.kind = LogSink::journald;
    return sink;
  }
  if (value == "terminal") {
    sink.kind = LogSink::terminal;
    return sink;
  }
  std::vector<std::string> parts = split(value);
  if (parts[0] == "syslog") {
    sink.kind = LogSink::syslog;
    sink.facility = LOG_USER;
    if (parts.size() > 3) refuse(setting, value, "syslog takes at most a facility and an ident");
    if (parts.size() > 1) {
      bool known = false;
      for (const Facility& f : kFacilities)
        if (parts[1] == f.name) sink.facility = f.value, known = true;
      if (!known) refuse(setting, value, "unknown syslog facility '" + parts[1] + "' (user, daemon, local0..local7, auth, authpriv, mail, news, uucp, cron, syslog, lpr, ftp)");
    }
    if (parts.size() > 2) {
      if (parts[2].empty()) refuse(setting, value, "empty syslog ident");
      sink.ident = parts[2];
    }
    return sink;
  }
  if (parts[0] == "daily") {
    sink.kind = LogSink::daily;
    sink.path = value.substr(6);
    if (sink.path.empty()) refuse(setting, value, "daily: needs a file path");
    return sink;
  }
  // rotate:PATH[:SIZE[:COUNT]]: the path itself may hold ':' only when both
  // SIZE and COUNT follow it.
  sink.kind = LogSink::rotate;
  sink.max_size = kRotateSizeDefault;
  sink.max_files = kRotateCountDefault;
  std::string rest = value.substr(7);
  std::size_t first = rest.find(':');
  sink.path = rest.substr(0, first);
  if (sink.path.empty()) refuse(setting, value, "rotate: needs a file path");
  if (first != std::string::npos) {
    std::string tail = rest.substr(first + 1);
    std::size_t second = tail.find(':');
    std::string size = tail.substr(0, second);
    if (!parse_size(size, &sink.max_size))
      refuse(setting, value, "the size " + sd::quoted(size) + " is not a number of bytes of at least 4096 (K, M, G suffixes)");
    if (second != std::string::npos) {
      std::string count = tail.substr(second + 1);
      char* end = nullptr;
      unsigned long n = count.empty() ? 0 : std::strtoul(count.c_str(), &end, 10);
      if (count.empty() || *end || count[0] < '0' || count[0] > '9' || n == 0 || n > 200000)
        refuse(setting, value, "the count " + sd::quoted(count) + " is not a number of files from 1 to 200000");
      sink.max_files = n;
    }
  }
  return sink;
}

}  // namespace sdcli
