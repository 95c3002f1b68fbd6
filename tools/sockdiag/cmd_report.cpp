// `sockdiag report FILE...`: what a person wants first from JSON logs.
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "escape.h"
#include "record_stats.h"
#include "report_html.h"
#include "table.h"
#include "text.h"
#include "usage.h"

namespace sdcli {

namespace {

struct ReportOptions {
  std::vector<std::string> files;
  std::string format = "text";
  std::string html;  // --html OUT: the page instead of the summary
};

template <class Map>
std::vector<typename Map::const_iterator> biggest_first(const Map& m) {
  std::vector<typename Map::const_iterator> v;
  for (auto it = m.begin(); it != m.end(); ++it) v.push_back(it);
  std::stable_sort(v.begin(), v.end(), [](auto a, auto b) { return a->second.count > b->second.count; });
  return v;
}

// Failures first (the map's order), the biggest first within a category.
std::vector<decltype(RecordStats::by_call)::const_iterator> by_category(const RecordStats& s) {
  std::vector<decltype(RecordStats::by_call)::const_iterator> rows;
  for (auto it = s.by_call.begin(); it != s.by_call.end(); ++it) rows.push_back(it);
  std::stable_sort(rows.begin(), rows.end(), [](auto a, auto b) {
    return std::get<0>(a->first) != std::get<0>(b->first) ? std::get<0>(a->first) < std::get<0>(b->first)
                                                          : a->second.count > b->second.count;
  });
  return rows;
}

// "ECONNREFUSED 3, ETIMEDOUT 1", biggest first.
std::string code_list(const std::map<std::string, uint64_t>& codes) {
  std::vector<std::pair<std::string, uint64_t>> v(codes.begin(), codes.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [code, n] : v) out += (out.empty() ? "" : ", ") + code + " " + std::to_string(n);
  return out;
}

// Times within one day are shown without the date (the heading has it).
std::string when(const std::string& ts, bool same_day) {
  if (!same_day || ts.size() < 11) return ts;
  std::string t = ts.substr(11);
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  return t;
}

void print_text(const RecordStats& s) {
  std::printf("%llu record%s from %zu process%s", static_cast<unsigned long long>(s.records),
              s.records == 1 ? "" : "s", s.pids.size(), s.pids.size() == 1 ? "" : "es");
  if (s.records) std::printf(", %s to %s", printable(s.first).c_str(), printable(s.last).c_str());
  char totals[256];
  sd::format_category_totals(s.category, s.category_injected, totals, sizeof(totals));
  std::printf(": %s; %llu injected, listed apart\n", totals, static_cast<unsigned long long>(s.injected));
  bool same_day = s.first.size() >= 10 && s.first.compare(0, 10, s.last, 0, 10) == 0;

  if (!s.by_peer.empty()) {
    std::printf("\nFailures by peer:\n");
    Table t({{"peer", Table::left},
             {"count", Table::right},
             {"first", Table::left},
             {"last", Table::left},
             {"codes", Table::left}});
    for (auto it : biggest_first(s.by_peer))
      t.add({it->first, std::to_string(it->second.count), when(it->second.first, same_day),
             when(it->second.last, same_day), code_list(it->second.codes)});
    t.print(stdout, 2);
  }
  if (!s.by_call.empty()) {
    std::printf("\nBy call and code:\n");
    Table t({{"call", Table::left},
             {"code", Table::left},
             {"category", Table::left},
             {"count", Table::right},
             {"first", Table::left},
             {"last", Table::left},
             {"peers", Table::right}});
    for (auto it : by_category(s))
      t.add({std::get<1>(it->first), std::get<2>(it->first), sd::category_name(std::get<0>(it->first)),
             std::to_string(it->second.count),
             when(it->second.first, same_day), when(it->second.last, same_day),
             std::to_string(it->second.peers.size())});
    t.print(stdout, 2);
  }
  if (!s.by_process.empty()) {
    std::printf("\nFailures by process:\n");
    Table t({{"process", Table::left},
             {"count", Table::right},
             {"first", Table::left},
             {"last", Table::left},
             {"codes", Table::left}});
    for (auto it : biggest_first(s.by_process))
      t.add({it->first, std::to_string(it->second.count), when(it->second.first, same_day),
             when(it->second.last, same_day), code_list(it->second.codes)});
    t.print(stdout, 2);
  }
  if (!s.by_rule.empty()) {
    std::printf("\nInjected by sockdiag rules:\n");
    Table t({{"call", Table::left},
             {"code", Table::left},
             {"count", Table::right},
             {"first", Table::left},
             {"last", Table::left},
             {"rule", Table::left}});
    for (auto it : biggest_first(s.by_rule))
      t.add({std::get<1>(it->first), std::get<2>(it->first), std::to_string(it->second.count),
             when(it->second.first, same_day), when(it->second.last, same_day), std::get<0>(it->first)});
    t.print(stdout, 2);
  }
  if (s.summary_lines || s.success_lines || s.retry_notices)
    std::printf("\nSkipped: %llu exit-summary line%s, %llu record%s of calls that succeeded (level trace), %llu "
                "notice%s of a retry by sockdiag.\n",
                static_cast<unsigned long long>(s.summary_lines), s.summary_lines == 1 ? "" : "s",
                static_cast<unsigned long long>(s.success_lines), s.success_lines == 1 ? "" : "s",
                static_cast<unsigned long long>(s.retry_notices), s.retry_notices == 1 ? "" : "s");
}

nlohmann::json group_json(const Group& g) {
  return {{"count", g.count}, {"first", g.first}, {"last", g.last}, {"codes", g.codes}};
}

void print_json(const RecordStats& s) {
  nlohmann::json out = {{"records", s.records},
                        {"injected", s.injected},
                        {"processes", s.pids.size()},
                        {"first", s.first},
                        {"last", s.last},
                        {"summary_lines", s.summary_lines},
                        {"retry_notices", s.retry_notices},
                        {"success_lines", s.success_lines},
                        {"text_lines", s.text_lines},
                        {"unreadable_lines", s.unreadable},
                        {"unreadable_at", s.unreadable_at}};
  nlohmann::json peers = nlohmann::json::array(), calls = nlohmann::json::array(), procs = nlohmann::json::array(),
                 rules = nlohmann::json::array();
  for (auto it : biggest_first(s.by_peer)) {
    nlohmann::json g = group_json(it->second);
    g["peer"] = it->first;
    peers.push_back(g);
  }
  nlohmann::json categories = nlohmann::json::object();
  for (std::size_t c = 0; c < sd::kCategoryCount; ++c)
    categories[sd::category_name(static_cast<sd::Category>(c))] = {{"count", s.category[c]},
                                                                   {"injected", s.category_injected[c]}};
  out["categories"] = categories;
  for (auto it : by_category(s)) {
    nlohmann::json g = group_json(it->second);
    g["call"] = std::get<1>(it->first);
    g["code"] = std::get<2>(it->first);
    g["category"] = sd::category_name(std::get<0>(it->first));
    g["peers"] = it->second.peers;
    calls.push_back(g);
  }
  for (auto it : biggest_first(s.by_process)) {
    nlohmann::json g = group_json(it->second);
    g["process"] = it->first;
    procs.push_back(g);
  }
  for (auto it : biggest_first(s.by_rule)) {
    nlohmann::json g = group_json(it->second);
    g["rule"] = std::get<0>(it->first);
    g["call"] = std::get<1>(it->first);
    g["code"] = std::get<2>(it->first);
    rules.push_back(g);
  }
  out["by_peer"] = peers;
  out["by_call"] = calls;
  out["by_process"] = procs;
  out["injected_by_rule"] = rules;
  std::printf("%s\n", out.dump(2).c_str());
}

// Problems with the input go to stderr: the report itself stays clean.
void print_input_notes(const RecordStats& stats) {
  if (stats.unreadable) {
    std::string at;
    for (const std::string& a : stats.unreadable_at) at += (at.empty() ? "" : ", ") + a;
    std::fprintf(stderr, "sockdiag report: %llu line%s could not be read as JSON records (%s%s)\n",
                 static_cast<unsigned long long>(stats.unreadable), stats.unreadable == 1 ? "" : "s",
                 one_line(at).c_str(),
                 stats.unreadable > stats.unreadable_at.size() ? ", ..." : "");
  }
  if (stats.text_lines)
    std::fprintf(stderr,
                 "sockdiag report: %llu line%s of a text-format log skipped; record with --format json to "
                 "report on them\n",
                 static_cast<unsigned long long>(stats.text_lines), stats.text_lines == 1 ? "" : "s");
}

// A page cut short (a full disk) is an error, never a success.
void write_page(const std::string& path, const std::string& page) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw UsageError("cannot write " + sd::quoted(path) + " (--html): " + std::strerror(errno) +
                     "; --html takes the path of a file in a writable directory");
  out.write(page.data(), static_cast<std::streamsize>(page.size()));
  out.close();
  if (!out) throw UsageError("cannot write " + sd::quoted(path) + " (--html): " + std::strerror(errno));
}

int report(const ReportOptions& o) {
  if (o.files.empty())
    throw UsageError("missing FILE; usage: sockdiag report [--html OUT.html] FILE... ('-' reads stdin)");
  RecordStats stats;
  HtmlReport html;
  if (!o.html.empty()) stats.on_record = [&html](const LineRecord& line) { html.add(line); };
  for (const std::string& f : o.files) {
    if (f == "-") {
      stats.read(std::cin, "stdin");
      continue;
    }
    struct stat st {};
    if (stat(f.c_str(), &st) != 0) throw UsageError("cannot read " + sd::quoted(f) + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw UsageError("cannot read " + sd::quoted(f) + ": it is a directory");
    std::ifstream in(f);
    if (!in) throw UsageError("cannot read " + sd::quoted(f) + ": " + std::strerror(errno));
    stats.read(in, f);
  }
  if (!o.html.empty()) {
    write_page(o.html, html.page(stats, o.files));
    std::printf("%s: %zu record%s from %zu process%s\n", printable(o.html).c_str(), html.marks(),
                html.marks() == 1 ? "" : "s", html.processes(), html.processes() == 1 ? "" : "es");
  } else if (o.format == "json") {
    print_json(stats);
  } else {
    print_text(stats);
  }
  print_input_notes(stats);
  return 0;
}

}  // namespace

Command add_report(CLI::App& root) {
  auto opts = std::make_shared<ReportOptions>();
  CLI::App* sub = root.add_subcommand("report",
                                      "Summarise JSON record files (sockdiag run --format json): "
                                      "records by category (failures, events, expected flow, injection "
                                      "notices), failures by peer and by process, every record by call "
                                      "and code, with the first and last time of each; injected faults apart.");
  set_usage(sub, "sockdiag report [--format text|json] FILE...\n       sockdiag report --html OUT.html FILE...");
  sub->add_option("files", opts->files, "JSON record files, of one or many processes; '-' reads stdin.")
      ->type_name("FILE...");
  CLI::Option* format =
      sub->add_option("--format", opts->format, "text (default) or json, for scripts.")->type_name("text|json");
  sub->add_option("--html", opts->html,
                  "Write one self-contained HTML page instead (no network access, nothing to install): a "
                  "timeline per process and per connection, failures by peer and by code, each record "
                  "on a click. Record with --level trace to see the calls that succeeded too.")
      ->type_name("OUT.html")
      ->excludes(format);
  sub->allow_extras();
  sub->footer(
      "Exit-summary lines and trace records of successful calls are skipped (and counted); lines that are "
      "not JSON records, such as a last line cut short, are skipped, counted and reported on stderr with "
      "FILE:LINE (and on an --html page).\n\n"
      "Exit status: 0; 2 for bad options, a file that cannot be read or an --html page that cannot be "
      "written.");
  auto action = [sub, opts]() {
    reject_extras(*sub, sub->remaining());
    if (sub->count("--html") && opts->html.empty())
      throw UsageError("--html needs a file name (--html OUT.html)");
    if (opts->format != "text" && opts->format != "json")
      throw UsageError("--format " + sd::quoted(opts->format) + " is not a format; accepted: text, json");
    return report(*opts);
  };
  return {sub, action};
}

}  // namespace sdcli
