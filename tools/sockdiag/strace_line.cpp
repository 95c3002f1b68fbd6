// The syntax of strace's lines (see strace_line.h).
#include "strace_line.h"

#include <cstdlib>

#include "strace_args.h"

namespace sdcli {

namespace {

constexpr std::string_view kUnfinished = " <unfinished ...>";
constexpr std::string_view kResumed = "<... ";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool take(std::string_view& s, std::string_view word) {
  if (s.substr(0, word.size()) != word) return false;
  s.remove_prefix(word.size());
  return true;
}

std::string_view take_word(std::string_view& s) {
  std::size_t n = s.find(' ');
  std::string_view w = s.substr(0, n);
  s.remove_prefix(n == std::string_view::npos ? s.size() : n);
  return w;
}

// "PID SECS.USECS " (PID only with -f and one output file).
bool parse_prefix(std::string_view& s, StraceLine* out) {
  long first = 0;
  if (!take_number(s, &first) || first < 0) return false;
  // strace pads the pid to a width ("2535  1796..."): one space or more.
  if (take(s, " ")) {
    while (take(s, " ")) {
    }
    out->tid = first;
    long secs = 0;
    // Seconds since 1970 that a record's nanoseconds can hold (to 2255).
    if (!take_number(s, &secs) || secs < 0 || secs > 9000000000L) return false;
    first = secs;
  }
  long usecs = 0;
  std::string_view frac = s;
  if (first > 9000000000L || !take(s, ".") || !take_number(s, &usecs) || usecs < 0 || frac.size() - s.size() != 7 || !take(s, " "))
    return false;
  out->wall_us = static_cast<int64_t>(first) * 1000000 + usecs;
  return true;
}

// What follows " = ": the value, its descriptor's decoding, the details
// and marks in parentheses, the duration (-T).
bool parse_result(std::string_view s, StraceLine* out) {
  if (take(s, "?")) {
    out->returned = false;
  } else if (!take_number(s, &out->ret)) {
    return false;
  }
  if (!s.empty() && s[0] == '<' && out->returned) {
    std::size_t end = s.find('>');
    if (end == std::string_view::npos) return false;
    out->ret_fd = s.substr(1, end - 1);
    s.remove_prefix(end + 1);
  }
  // An error's name follows -1 (and "?" for the restart codes).
  if (s.size() > 1 && s[0] == ' ' && s[1] == 'E') {
    s.remove_prefix(1);
    out->error = take_word(s);
  }
  bool first_group = true;
  while (!s.empty()) {
    if (!take(s, " ")) return false;
    if (!s.empty() && s[0] == '(') {
      std::size_t end = closing_bracket(s, 1);
      if (end == std::string_view::npos) return false;
      std::string_view group = s.substr(1, end - 1);
      if (group == "INJECTED") out->injected = true;
      else if (group == "DELAYED") out->delayed = true;
      else if (first_group && out->error.empty()) out->detail = group;
      first_group = false;
      s.remove_prefix(end + 1);
    } else if (!s.empty() && s[0] == '<') {
      // The duration (-T), or "<unavailable>" for a call cut by the exit.
      std::size_t end = s.find('>');
      if (end == std::string_view::npos) return false;
      s.remove_prefix(end + 1);
    } else {
      return false;
    }
  }
  return true;
}

bool parse_body(std::string_view s, StraceLine* out) {
  if (take(s, "--- ")) {
    if (s.size() < 4 || s.substr(s.size() - 4) != " ---") return false;
    out->type = StraceLine::Type::signal;
    out->name = take_word(s);
    return !out->name.empty();
  }
  if (take(s, "+++ ")) {
    if (take(s, "exited with ")) {
      out->type = StraceLine::Type::exited;
      return take_number(s, &out->number) && s == " +++";
    }
    if (take(s, "killed by ")) {
      out->type = StraceLine::Type::killed;
      out->name = take_word(s);
      return !out->name.empty() && (s == " +++" || s == " (core dumped) +++");
    }
    if (take(s, "superseded by execve in pid ")) {
      out->type = StraceLine::Type::superseded;
      return take_number(s, &out->number) && s == " +++";
    }
    return false;
  }
  if (take(s, kResumed)) {
    std::size_t end = s.find(" resumed>");
    if (end == 0 || end == std::string_view::npos) return false;
    out->type = StraceLine::Type::resumed;
    out->name = s.substr(0, end);
    out->args = s.substr(end + 9);
    return true;
  }
  std::size_t open = s.find('(');
  if (open == 0 || open == std::string_view::npos) return false;
  out->name = s.substr(0, open);
  for (char c : out->name)
    if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '_' || c == '?')) return false;
  if (s.size() >= kUnfinished.size() && s.substr(s.size() - kUnfinished.size()) == kUnfinished) {
    out->type = StraceLine::Type::unfinished;
    out->args = s.substr(open + 1, s.size() - kUnfinished.size() - open - 1);
    return true;
  }
  std::size_t close = closing_bracket(s, open + 1);
  if (close == std::string_view::npos) return false;
  out->args = s.substr(open + 1, close - open - 1);
  std::string_view rest = s.substr(close + 1);
  // strace pads a short line to its result column (40): one space or more.
  // exit_group's line: "= ?" with nothing after it.
  if (!take(rest, " ")) return false;
  while (take(rest, " ")) {
  }
  if (!take(rest, "= ")) return false;
  out->type = StraceLine::Type::call;
  return parse_result(rest, out);
}

}  // namespace

bool parse_strace_line(std::string_view line, StraceLine* out) {
  *out = StraceLine{};
  return parse_prefix(line, out) && parse_body(line, out);
}

std::string_view LineJoiner::feed(std::string_view line) {
  bool unfinished = line.size() > kUnfinished.size() && line.substr(line.size() - kUnfinished.size()) == kUnfinished;
  std::size_t resumed = unfinished ? std::string_view::npos : line.find(kResumed);
  if (!unfinished && resumed == std::string_view::npos) return line;
  StraceLine l;
  if (!parse_strace_line(line, &l)) return line;
  if (l.type == StraceLine::Type::unfinished) {
    Pending& p = pending_[l.tid];
    p.name.assign(l.name);
    p.start.assign(line.substr(0, line.size() - kUnfinished.size()));
    return {};
  }
  if (l.type != StraceLine::Type::resumed) return line;
  auto it = pending_.find(l.tid);
  if (it == pending_.end()) return line;
  // The start's own name must be the one resumed: otherwise the halves
  // belong to two calls and neither is understood.
  if (it->second.name != l.name) {
    pending_.erase(it);
    return line;
  }
  joined_.assign(it->second.start);
  joined_.append(l.args);
  pending_.erase(it);
  return joined_;
}

}  // namespace sdcli
