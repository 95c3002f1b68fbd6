// JSON to put inside an HTML <script> element: a record's strings are chosen
// by the programs that were run, and "</script>" or "<!--" in one would end
// or change the element. Every '<', '>' and '&' is written as its \u escape
// (they appear only inside JSON strings, so the value read back is the same),
// and so are U+2028 and U+2029, which older JavaScript takes for line ends.
// Bytes that are not UTF-8 become U+FFFD.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace sdcli {

std::string json_for_script(const nlohmann::json& value);

}  // namespace sdcli
