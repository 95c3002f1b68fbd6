// Small text helpers shared by the subcommands.
#pragma once
#include <string>
#include <string_view>

namespace sdcli {

// `text` broken into lines of at most `width` columns (words are never cut),
// each line starting with `indent` spaces, each ending in '\n'.
std::string wrap(std::string_view text, int indent, int width = 78);

// A path made absolute against the current directory (not resolved: the
// file need not exist yet). Children that change directory still find it.
std::string absolute_path(const std::string& path);

// `s` safe to print on a terminal, as the library's text records write values
// from outside: backslash, control characters and bytes that are not UTF-8 as
// C escapes (a program name or a peer read back from a log may hold any byte).
std::string printable(std::string_view s);

// A message (with the values it quotes) made one inert line: control
// characters and bytes that are not UTF-8 escaped; backslashes kept.
std::string one_line(std::string_view message);

// "SIGSEGV", or "signal 42" for a number without a name.
std::string signal_name(int sig);

}  // namespace sdcli
