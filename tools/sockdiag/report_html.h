// `sockdiag report --html OUT`: one page that shows a run, with nothing to
// fetch (report_page.html, built into the command): a timeline per process
// and per connection, failures by peer and by code, every record on a click.
// The records come from RecordStats' reading (record_stats.h), so the page
// and the text report agree on what a line is.
#pragma once
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "record_stats.h"

namespace sdcli {

class HtmlReport {
 public:
  // Keeps one line's record (RecordStats::on_record).
  void add(const LineRecord& line);
  // The page for the records kept, with the notes of `stats` (lines skipped)
  // and the names of the files read.
  std::string page(const RecordStats& stats, const std::vector<std::string>& files) const;
  // The marks the page draws (every record but exit summaries), and the
  // processes they are of.
  std::size_t marks() const { return marks_; }
  std::size_t processes() const { return pids_.size(); }

 private:
  nlohmann::json records_ = nlohmann::json::array();
  std::size_t marks_ = 0;
  std::set<std::string> pids_;  // as written: a record's pid is not always a number
};

}  // namespace sdcli
