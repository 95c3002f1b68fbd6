// `sockdiag libpath`: the library `sockdiag run` preloads, for
// LD_PRELOAD=$(sockdiag libpath) ./app.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "locate.h"
#include "usage.h"

namespace sdcli {

Command add_libpath(CLI::App& root) {
  CLI::App* sub = root.add_subcommand("libpath",
                                      "Print the absolute path of the library, for "
                                      "LD_PRELOAD=$(sockdiag libpath) CMD.");
  set_usage(sub, "sockdiag libpath");
  sub->allow_extras();
  sub->footer("Exit status: 0; 1 when the library cannot be found (the places looked at are listed on stderr).");
  auto action = [sub]() {
    reject_extras(*sub, sub->remaining());
    std::vector<std::string> tried;
    std::string path = find_library(&tried);
    if (path.empty()) {
      std::string where;
      for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
      std::fprintf(stderr, "sockdiag libpath: cannot find " SOCKDIAG_LIBRARY_FILE "; looked for %s\n", where.c_str());
      return 1;
    }
    std::printf("%s\n", path.c_str());
    return 0;
  };
  return {sub, action};
}

}  // namespace sdcli
