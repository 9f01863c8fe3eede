// store/maildir_path.h: the maildir of one recipient from <store maildir>'s path template.
//
// Macros (lib/template.h syntax): %U% the recipient's local part, %D% its domain, %U1% %U2%
// %D1% %D2% their first and second characters, %GROUP% the recipient's policy group, %DATE%
// the day the message was received (YYYYMMDD, UTC).
// Sanitising (the address is the sender's choice, so it is hostile until made safe): values are
// lower-cased (ASCII); every byte other than a-z 0-9 . _ - + = is written as %XX (so "/", NUL,
// control characters and non-ASCII bytes never reach the file system as they are, and two
// different addresses never share a maildir); a value that starts with '.' has that dot written
// as %2E (no "..", no hidden directories); an empty value is "_"; each value is cut to
// kMaxComponent bytes. A letter macro is the letter or digit itself, else "_". The result is
// checked once more: absolute, no empty, "." or ".." component.
// Threads: plain functions, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpp::store {

inline constexpr std::size_t kMaxComponent = 200;

// The value of %U% / %D% / %GROUP% after sanitising.
std::string sanitise_component(std::string_view value);

// The expanded path; nullopt and *error when the template gives no usable path.
std::optional<std::string> maildir_path(std::string_view path_template, std::string_view address,
                                        std::string_view group, std::int64_t received,
                                        std::string* error);

}  // namespace mpp::store
