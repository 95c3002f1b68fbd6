// "Did you mean ...?": the closest word to a misspelt one.
#pragma once
#include <cstddef>
#include <string_view>

namespace sd {

// Edit distance (insertions, deletions, substitutions; case-insensitive).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or nullptr when none is close enough to
// be a likely misspelling (distance above a third of the word's length, +1).
const char* nearest_word(std::string_view word, const char* const* candidates, std::size_t count);

}  // namespace sd
