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

// A value as error messages about settings quote it: in single quotes, made
// inert as records make values from outside (control characters, C1 and
// bytes that are not UTF-8 escaped: the message stays one line, and raw
// terminal escapes never reach the user's terminal), cut at 120 bytes.
std::string quote_value(std::string_view v);
// A word named in a rule's message: "word", every control byte, byte from
// 0x7f up, '"' and '\\' as \xNN, cut at 40 bytes ("...\""). (The rule
// parser's messages, which its tests check, use this form.)
std::string quote_word(std::string_view s);

}  // namespace sd
