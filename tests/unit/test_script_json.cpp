// JSON put inside the <script> element of `sockdiag report --html`
// (script_json.h): no record's string may end the element, open a comment
// or break a line for JavaScript, and the value read back must be the same.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "script_json.h"

using sdcli::json_for_script;

TEST_CASE("markup in a string is escaped and the value reads back the same", "[script_json]") {
  nlohmann::json v = {{"prog", "</script><script>alert(1)</script>"},
                      {"peer", "<!-- <img src=x onerror=alert(2)> & &amp;"},
                      {"n", {1, 2, 3}}};
  std::string out = json_for_script(v);
  CHECK(out.find('<') == std::string::npos);
  CHECK(out.find('>') == std::string::npos);
  CHECK(out.find('&') == std::string::npos);
  CHECK(out.find("\\u003c/script\\u003e") != std::string::npos);
  CHECK(nlohmann::json::parse(out) == v);
}

TEST_CASE("U+2028 and U+2029 are escaped, other characters kept", "[script_json]") {
  nlohmann::json v = "a\u2028b\u2029c\u00e9\u2027\u202a";
  std::string out = json_for_script(v);
  CHECK(out == "\"a\\u2028b\\u2029c\u00e9\u2027\u202a\"");
  CHECK(nlohmann::json::parse(out) == v);
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD instead of an exception", "[script_json]") {
  nlohmann::json v = std::string("x\xff\xe2\x80y");
  std::string out = json_for_script(v);
  CHECK(nlohmann::json::parse(out).get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
}
