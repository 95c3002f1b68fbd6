// Reading one JSON object of a JSON-lines file (a log the library wrote):
// its top-level members, enough to read records back without a JSON
// library in sockdiag_core. Nested objects and arrays are checked and
// skipped.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sd {

struct JsonMember {
  enum Type : unsigned char { string, number, boolean, null, nested } type = null;
  std::string key;
  std::string text;  // a string's value (unescaped), a number's or a boolean's spelling
};

// Parses `line` as one JSON object. On error returns false and sets `error`
// to what was wrong and at which byte (from 1).
bool read_json_object(std::string_view line, std::vector<JsonMember>* out, std::string* error);

}  // namespace sd
