// The normal form of a rule (rules.h): each value spelt one way, so that the
// text parses back to itself. The parser keeps it as Rule::text.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "rules.h"

namespace sd {
namespace rule_lang {

// The whole rule: target, action, then the filters in the grammar's order.
std::string normal_form(const Rule& r);
// A string value, quoted when it holds a character that would end it.
std::string string_text(std::string_view s);
// The nth= filter's value ("3", "2..5", "4..").
std::string nth_text(const Rule& r);
// An IPv4 or IPv6 address (4 or 16 bytes) as inet_ntop writes it.
std::string address_text(int family, const uint8_t* addr);

}  // namespace rule_lang
}  // namespace sd
