#include "report_html.h"

#include <string_view>

#include "script_json.h"

namespace sdcli {

namespace {

// report_page.html, as a raw string literal (embed_text.cmake).
constexpr std::string_view kPage =
#include "report_page.inc"
    ;
constexpr std::string_view kDataSlot = "/*SOCKDIAG_DATA*/";
static_assert(kPage.find(kDataSlot) != std::string_view::npos, "report_page.html lost its data slot");

}  // namespace

void HtmlReport::add(const LineRecord& line) {
  if (std::string_view(line.kind) != "summary") {
    ++marks_;
    auto pid = line.record.find("pid");
    pids_.insert(pid == line.record.end() ? "?" : pid->dump());
  }
  auto text = [&line](const char* key) {
    auto it = line.record.find(key);
    return it != line.record.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  records_.push_back({{"kind", line.kind},
                      {"src", line.source},
                      {"where", peer_label(text("peer"), text("host"))},
                      {"rec", line.record}});
}

std::string HtmlReport::page(const RecordStats& stats, const std::vector<std::string>& files) const {
  nlohmann::json data = {{"files", files},
                         {"records", records_},
                         {"unreadable", stats.unreadable},
                         {"unreadable_at", stats.unreadable_at},
                         {"text_lines", stats.text_lines}};
  std::size_t at = kPage.find(kDataSlot);
  std::string out(kPage.substr(0, at));
  out += json_for_script(data);
  out += kPage.substr(at + kDataSlot.size());
  return out;
}

}  // namespace sdcli
