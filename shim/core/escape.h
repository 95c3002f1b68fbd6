// Values from outside the library (argv[0], a path, a host name, a rule's or
// a setting's text) made safe to show: the one home for it, so that records,
// summaries, messages and the command escape alike. In a line, LineBuffer's
// append_json_escaped / append_text_escaped / append_inert (escape.cpp); in a
// message, the strings below.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "line_buffer.h"

namespace sd {

// `s` as a text record writes a value from outside: backslash, control
// characters and bytes that are not UTF-8 as C escapes; "…" added when it
// is longer than a line.
std::string text_escaped(std::string_view s);
// `s` made one inert line as append_inert does (backslashes kept).
std::string inert_escaped(std::string_view s);

// A value from outside (a setting's value, a path, a word of a rule) as every
// error message quotes it: in single quotes, made inert as records make
// values from outside (control characters, C1 and bytes that are not UTF-8
// escaped: the message stays one line, and raw terminal escapes never reach
// the user's terminal), cut at 120 bytes.
std::string quoted(std::string_view v);

}  // namespace sd
