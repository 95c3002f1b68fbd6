// "Did you mean ...?": the closest word to a misspelt one, for every
// message that names a word it does not know (settings, rules).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sd {

// Edit distance (insertions, deletions, substitutions; case-insensitive).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or nullptr when none is close enough to
// be a likely misspelling (distance above a third of the word's length, +1).
const char* nearest_word(std::string_view word, const char* const* candidates, std::size_t count);

// The one "did you mean": a candidate that is `word` with two neighbouring
// letters swapped ("prot" for "port", the commonest typo, which the edit
// distance counts as two changes), else nearest_word's; nullptr: none.
const char* suggestion(std::string_view word, const char* const* candidates, std::size_t count);

// "; did you mean NAME?" for suggestion()'s candidate, or "" (how the rule
// parser's messages end).
std::string did_you_mean(std::string_view word, const char* const* candidates, std::size_t count);

}  // namespace sd
