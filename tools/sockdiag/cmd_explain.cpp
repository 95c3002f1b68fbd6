// `sockdiag explain CODE [--call CALL]` and `sockdiag explain --list`: the
// library's own explanation table, read by a person.
#include <string.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "escape.h"
#include "explain.h"
#include "nearest.h"
#include "table.h"
#include "text.h"
#include "usage.h"

namespace sdcli {

namespace {

struct ExplainOptions {
  std::string code;
  std::string call;
  bool list = false;
  std::string format = "text";
};

// Words for the situation bits a row requires.
std::string situation_words(uint32_t when) {
  static const std::pair<uint32_t, const char*> kWords[] = {
      {sd::sit_nonblocking, "on a non-blocking socket (or with MSG_DONTWAIT)"},
      {sd::sit_own_timeout, "when the program set SO_RCVTIMEO/SO_SNDTIMEO"},
      {sd::sit_async, "as the result of a non-blocking connect (SO_ERROR)"},
      {sd::sit_established, "on an established connection"},
      {sd::sit_datagram, "on a datagram socket"},
      {sd::sit_unix, "on a unix socket"},
      {sd::sit_injected, "when injected by a sockdiag rule"},
      {sd::sit_abstract, "at an abstract unix name (@name)"},
      {sd::sit_reuseaddr, "with SO_REUSEADDR set"},
      {sd::sit_abandoned, "when the program gave up a connect still in progress"},
      {sd::sit_after_error, "after the connection had already failed"},
      {sd::sit_probe, "as a probe the program goes on from"},
      {sd::sit_own_shutdown, "after the program shut the socket down in that direction"},
  };
  std::string out;
  for (const auto& [bit, words] : kWords)
    if (when & bit) out += (out.empty() ? "" : ", ") + std::string(words);
  return out;
}

// The record fills {peer}, {fd}... from the failing call; here they stay
// visible as <peer>, <fd>... except {call} when the call is known.
std::string generic_text(const char* text, const std::string& call) {
  std::string out;
  for (const char* p = text; *p; ++p) {
    const char* close = *p == '{' ? std::strchr(p, '}') : nullptr;
    if (!close) {
      out += *p;
      continue;
    }
    std::string key(p + 1, close);
    out += key == "call" && !call.empty() ? call : "<" + key + ">";
    p = close;
  }
  return out;
}

const char* code_kind_word(sd::CodeKind d) {
  switch (d) {
    case sd::CodeKind::errno_code:
      return "errno";
    case sd::CodeKind::gai:
      return "getaddrinfo";
    case sd::CodeKind::event:
      return "event";
  }
  return "";
}

std::string code_heading(sd::CodeKind d, int code) {
  std::string head = sd::code_name(d, code);
  if (d != sd::CodeKind::event) head += std::string(" (") + code_kind_word(d) + " " + std::to_string(code) + ")";
  return head + ": " + sd::code_message(d, code);
}

// Every name `explain` accepts, for "did you mean".
std::vector<const char*> known_names() {
  std::vector<const char*> names;
  std::size_t n = 0;
  const sd::Explanation* rows = sd::explanation_rows(&n);
  for (std::size_t i = 0; i < n; ++i) names.push_back(rows[i].name);
  for (int e = 1; e < 4096; ++e)
    if (const char* name = strerrorname_np(e)) names.push_back(name);
  return names;
}

int list_codes(const ExplainOptions& o) {
  std::size_t n = 0;
  const sd::Explanation* rows = sd::explanation_rows(&n);
  // One entry per code, in table order, with the calls that have rows of their own.
  std::vector<std::pair<const sd::Explanation*, std::string>> codes;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = std::find_if(codes.begin(), codes.end(), [&](const auto& c) {
      return c.first->code_kind == rows[i].code_kind && c.first->code == rows[i].code;
    });
    if (it == codes.end()) {
      codes.push_back({&rows[i], ""});
      it = codes.end() - 1;
    }
    std::string call = rows[i].call == sd::CallClass::any ? "any" : sd::call_class_name(rows[i].call);
    if (it->second.find(call) == std::string::npos) it->second += (it->second.empty() ? "" : ",") + call;
  }
  if (o.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [row, calls] : codes)
      out.push_back({{"name", row->name},
                     {"kind", code_kind_word(row->code_kind)},
                     {"number", row->code},
                     {"message", sd::code_message(row->code_kind, row->code)},
                     {"calls", calls}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  Table t({{"name", Table::left},
           {"kind", Table::left},
           {"number", Table::right},
           {"calls", Table::left},
           {"message", Table::left}});
  for (const auto& [row, calls] : codes)
    t.add({row->name, code_kind_word(row->code_kind), row->code_kind == sd::CodeKind::event ? "-" : std::to_string(row->code),
           calls, sd::code_message(row->code_kind, row->code)});
  t.print(stdout, 0);
  return 0;
}

int explain_code(const ExplainOptions& o) {
  sd::CodeKind code_kind;
  int code = 0;
  if (!sd::code_from_name(o.code, &code_kind, &code)) {
    std::string msg = sd::quoted(o.code) + " is not an errno, getaddrinfo (EAI_) or event name or number";
    std::vector<const char*> names = known_names();
    if (const char* near = sd::nearest_word(o.code, names.data(), names.size()))
      msg += std::string(" (did you mean ") + near + "?)";
    throw UsageError(msg + "; 'sockdiag explain --list' lists the explained ones");
  }
  sd::CallClass cls = sd::CallClass::any;
  if (!o.call.empty() && !sd::call_class_from_name(o.call, &cls))
    throw UsageError(sd::quoted(o.call) +
                     " is not a call; accepted: socket, connect, bind, listen, accept, send, recv, "
                     "close, shutdown, sockopt, poll, dns, fdops, or a libc name such as recvfrom or epoll_wait");

  std::size_t n = 0;
  const sd::Explanation* rows = sd::explanation_rows(&n);
  std::vector<const sd::Explanation*> match;
  for (std::size_t i = 0; i < n; ++i) {
    const sd::Explanation& r = rows[i];
    if (r.code_kind != code_kind || r.code != code) continue;
    if (cls != sd::CallClass::any && r.call != sd::CallClass::any && r.call != cls) continue;
    match.push_back(&r);
  }
  if (o.format == "json") {
    nlohmann::json out = {{"name", sd::code_name(code_kind, code)},
                          {"kind", code_kind_word(code_kind)},
                          {"number", code},
                          {"message", sd::code_message(code_kind, code)}};
    nlohmann::json list = nlohmann::json::array();
    for (const sd::Explanation* r : match)
      list.push_back({{"call", sd::call_class_name(r->call)},
                      {"situation", situation_words(r->when)},
                      {"level", sd::level_name(r->level)},
                      {"explanation", generic_text(r->text, o.call)},
                      {"advice", generic_text(r->advice, o.call)}});
    out["explanations"] = list;
    std::printf("%s\n", out.dump(2).c_str());
    return match.empty() ? 1 : 0;
  }
  std::printf("%s\n", code_heading(code_kind, code).c_str());
  if (match.empty()) {
    std::printf("%s", wrap(std::string("sockdiag has no explanation of it") + (o.call.empty() ? "" : " for " + o.call) +
                               "; its records then give the code and the system's message only.",
                           2)
                          .c_str());
    return 1;
  }
  for (const sd::Explanation* r : match) {
    std::string when = r->call == sd::CallClass::any
                           ? std::string(o.call.empty() ? "any call" : o.call)
                           : std::string(o.call.empty() ? sd::call_class_name(r->call) : o.call);
    std::string situation = situation_words(r->when);
    if (!situation.empty()) when += ", " + situation;
    std::printf("\n%s [%s]:\n", when.c_str(), sd::level_name(r->level));
    std::printf("%s", wrap(generic_text(r->text, o.call), 2).c_str());
    std::printf("%s", wrap("Try: " + generic_text(r->advice, o.call), 2).c_str());
  }
  if (match.size() > 1)
    std::printf("\n%s",
                wrap("A record uses the first of these that fits the failing call and its situation.", 0).c_str());
  return 0;
}

}  // namespace

Command add_explain(CLI::App& root) {
  auto opts = std::make_shared<ExplainOptions>();
  CLI::App* sub = root.add_subcommand("explain",
                                      "Explain an error code as the library does: what it means for "
                                      "each call and situation, and what to do.");
  set_usage(sub, "sockdiag explain CODE [--call CALL]\n       sockdiag explain --list");
  sub->add_option("code", opts->code,
                  "An errno name or number (ECONNRESET, 104), a getaddrinfo code (EAI_AGAIN, or its negative "
                  "number after '--': -- -3), or an event (EOF, POLLHUP, POLLERR).")
      ->type_name("CODE");
  sub->add_option("--call", opts->call,
                  "Only what applies to this call: connect, accept, send, recv, poll, dns... or a libc name "
                  "(recvfrom, epoll_wait).")
      ->type_name("CALL");
  sub->add_flag("-l,--list", opts->list, "List every code the table explains.");
  sub->add_option("--format", opts->format, "text (default) or json.")->type_name("text|json");
  sub->allow_extras();
  sub->footer(
      "In the text, <peer>, <local>, <host>, <fd>, <sent>, <received> and <age> stand for what a record "
      "fills in from the failing call.\n\n"
      "Exit status: 0; 1 when the table has no explanation of the code; 2 for bad input.");
  auto action = [sub, opts]() {
    reject_extras(*sub, sub->remaining());
    if (opts->format != "text" && opts->format != "json")
      throw UsageError("--format " + sd::quoted(opts->format) + " is not a format; accepted: text, json");
    if (opts->list) {
      if (!opts->code.empty()) throw UsageError("give either CODE or --list, not both");
      return list_codes(*opts);
    }
    if (opts->code.empty()) throw UsageError("missing CODE; usage: sockdiag explain CODE [--call CALL], or --list");
    return explain_code(*opts);
  };
  return {sub, action};
}

}  // namespace sdcli
