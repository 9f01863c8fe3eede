// lib/quote.h: untrusted text shown inside an error or log message.
//
// quoted("a\"b") is "\"a\\x22b\"": the text between double quotes, control characters, DEL,
// '"' and '\\' escaped as \xNN, cut after `max_shown` bytes (enough for any socket path) with "..." appended, so a hostile
// config value or address can't forge log lines or flood a diagnostic.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mpp {

std::string quoted(std::string_view text, std::size_t max_shown = 120);

}  // namespace mpp
