// Edit distance and the suggestion built on it (see nearest.h).
#include "nearest.h"

#include <cctype>
#include <vector>

namespace sd {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      std::size_t best = diag + (same ? 0 : 1);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[b.size()];
}

const char* nearest_word(std::string_view word, const char* const* candidates, std::size_t count) {
  const char* best = nullptr;
  std::size_t best_d = word.size() / 3 + 2;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t d = edit_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}

namespace {
bool swapped_pair(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  std::size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] && a.substr(i + 2) == b.substr(i + 2);
}
}  // namespace

const char* suggestion(std::string_view word, const char* const* candidates, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (swapped_pair(word, candidates[i])) return candidates[i];
  return nearest_word(word, candidates, count);
}

std::string did_you_mean(std::string_view word, const char* const* candidates, std::size_t count) {
  const char* near = suggestion(word, candidates, count);
  return near ? std::string("; did you mean ") + near + "?" : std::string();
}

}  // namespace sd
