// lib/quote.cc: quoting of untrusted text for messages (see quote.h).
#include "lib/quote.h"

#include <cstdio>

namespace mpp {

std::string quoted(std::string_view text, std::size_t max_shown) {
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > max_shown) out += "...";
    return out + "\"";
}

}  // namespace mpp
