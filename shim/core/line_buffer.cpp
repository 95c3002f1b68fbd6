// The line buffer's integers (see line_buffer.h); its escaping is in
// escape.cpp.
#include "line_buffer.h"

namespace sd {

char* LineBuffer::write_decimal(char* p, bool negative, uint64_t magnitude) {
  if (negative) *p++ = '-';
  if (magnitude <= UINT32_MAX) return put_decimal(p, static_cast<uint32_t>(magnitude));
  return fmt::format_to(p, FMT_COMPILE("{}"), magnitude);
}

}  // namespace sd
