// Plain-text tables for the terminal: columns as wide as their widest cell.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace sdcli {

class Table {
 public:
  enum Align { left, right };
  struct Column {
    std::string title;
    Align align;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Cells come from logs, which hold what programs gave: printed escaped.
  void add(const std::vector<std::string>& row);
  bool empty() const { return rows_.empty(); }
  // The title line, then the rows; each line starts with `indent` spaces.
  // The last column is never padded (it may be long free text).
  void print(std::FILE* out, int indent) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sdcli
