// lib/utf8.h: cutting UTF-8 text to a byte bound without splitting a character.
#pragma once

#include <cstddef>
#include <string>

namespace mpp {

// `s` cut to at most `max` bytes, never inside a UTF-8 sequence (continuation bytes before
// the cut go with it). Bytes that are not UTF-8 are cut like any other.
inline std::string cut_utf8(std::string s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    return s;
}

}  // namespace mpp
