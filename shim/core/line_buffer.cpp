// The line buffer's own writing (see line_buffer.h); its escaping is in
// escape.cpp.
#include "line_buffer.h"

#include <cstring>

#include "escape.h"

namespace sd {

void LineBuffer::append_cut(std::string_view s) {
  std::size_t room = kCapacity - len_;
  std::memcpy(buf_ + len_, s.data(), room < s.size() ? room : s.size());
  len_ = kCapacity;
  truncated_ = true;
}

char* LineBuffer::write_decimal(char* p, bool negative, uint64_t magnitude) {
  if (negative) *p++ = '-';
  if (magnitude <= UINT32_MAX) return put_decimal(p, static_cast<uint32_t>(magnitude));
  return fmt::format_to(p, FMT_COMPILE("{}"), magnitude);
}

void LineBuffer::finish_line() {
  static constexpr std::string_view kCut = "…";
  if (full()) {
    // Keep room for the mark and the newline; a cut JSON record still ends
    // the line, so that the next record starts on its own line.
    std::size_t keep = kCapacity - kCut.size() - 1;
    if (len_ > keep) len_ = keep;
    len_ = whole_utf8_prefix({buf_, len_});
    std::memcpy(buf_ + len_, kCut.data(), kCut.size());
    len_ += kCut.size();
  }
  buf_[len_++] = '\n';
}

}  // namespace sd
