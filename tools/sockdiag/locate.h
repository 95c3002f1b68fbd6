// Finding the files that come with the command, relative to its own
// executable: the installed layout first (so a moved prefix works), then the
// build tree.
#pragma once
#include <string>
#include <vector>

namespace sdcli {

// The directory holding the running executable (from /proc/self/exe).
std::string self_dir();

// The absolute path of libsockdiag.so, or "" when none is found; `tried`
// then lists every place looked at.
std::string find_library(std::vector<std::string>* tried);

// The absolute path of the demonstration program, or "" (see find_library).
std::string find_demo(std::vector<std::string>* tried);

// CMD as execvp would find it: a name with a '/' as is, else the first
// match in $PATH that is a regular file. "" when there is none.
std::string find_in_path(const std::string& cmd);

}  // namespace sdcli
