// Times and durations as records show them (see time_text.h).
#include "time_text.h"

#include <cstring>

namespace sd {
namespace {

// "00" to "99", for writing two digits at a time.
struct DigitPairs {
  char text[200];
  constexpr DigitPairs() : text() {
    for (int i = 0; i < 100; ++i) {
      text[2 * i] = static_cast<char>('0' + i / 10);
      text[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
  }
};
constexpr DigitPairs kDigitPairs;

// Fixed-width decimal, zero-padded; higher digits are dropped.
void put_digits(char* at, uint32_t v, int width) {
  for (; width >= 2; width -= 2, v /= 100) std::memcpy(at + width - 2, kDigitPairs.text + 2 * (v % 100), 2);
  if (width == 1) at[0] = static_cast<char>('0' + v % 10);
}

// "2026-11-27T23:59:01." for a second since the epoch.
void write_second(int64_t secs, char (&t)[20]) {
  // gmtime_r takes glibc's time zone lock: a child forked while another
  // thread held it would deadlock here. Civil date from days instead
  // (H. Hinnant's days_from_civil inverse).
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
  put_digits(t, static_cast<uint32_t>(y), 4);
  t[4] = '-';
  put_digits(t + 5, static_cast<uint32_t>(m), 2);
  t[7] = '-';
  put_digits(t + 8, static_cast<uint32_t>(d), 2);
  t[10] = 'T';
  put_digits(t + 11, static_cast<uint32_t>(rem / 3600), 2);
  t[13] = ':';
  put_digits(t + 14, static_cast<uint32_t>(rem / 60 % 60), 2);
  t[16] = ':';
  put_digits(t + 17, static_cast<uint32_t>(rem % 60), 2);
  t[19] = '.';
}


// A fraction with a fixed count of decimals, formatted once into a buffer
// that holds any this file writes (at most 14 digits before the point: a
// uint64_t count of ns is below 2e13 ms). appendf would format it twice, to
// size it first.
template <class S>
void append_fixed(LineBuffer& out, const S& format, double v) {
  char text[32];
  char* end = fmt::format_to(text, format, v);
  out.append({text, static_cast<std::size_t>(end - text)});
}

}  // namespace

void format_time(int64_t wall_ns, TimeCache& cache, LineBuffer& out) {
  // Rounded down, also before 1970: the fraction is never negative.
  int64_t secs = wall_ns / 1000000000;
  int64_t ns = wall_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    --secs;
  }
  if (secs != cache.second) {
    write_second(secs, cache.text);
    cache.second = secs;
  }
  char t[27];
  std::memcpy(t, cache.text, sizeof(cache.text));
  put_digits(t + 20, static_cast<uint32_t>(ns / 1000), 6);
  t[26] = 'Z';
  out.append({t, sizeof(t)});
}

void format_time(int64_t wall_ns, LineBuffer& out) {
  TimeCache fresh;
  format_time(wall_ns, fresh, out);
}

void format_duration(uint64_t ns, LineBuffer& out) {
  if (ns < 1000000) {
    out.put(ns / 1000, " us");
  } else if (ns < 1000000000) {
    append_fixed(out, FMT_COMPILE("{:.1f}"), static_cast<double>(ns) / 1e6);
    out.put(" ms");
  } else if (ns < 60ull * 1000000000) {
    append_fixed(out, FMT_COMPILE("{:.1f}"), static_cast<double>(ns) / 1e9);
    out.put(" s");
  } else {
    out.put(ns / 60000000000ull, " min ", ns / 1000000000ull % 60, " s");
  }
}

}  // namespace sd
