// store/entry.cc: the names of an entry's kind and its identity (store/entry.h, store/uuid.h).
#include "store/entry.h"

#include <errno.h>
#include <sys/random.h>

#include <array>
#include <cstdint>

#include "store/uuid.h"

namespace mpp::store {

const char* kind_name(EntryKind k) { return k == EntryKind::archive ? "archive" : "quarantine"; }

std::string new_uuid() {
    std::array<std::uint8_t, 16> b{};
    std::size_t got = 0;
    while (got < b.size()) {
        ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return "";
        got += static_cast<std::size_t>(n);
    }
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += kHex[b[i] >> 4];
        s += kHex[b[i] & 0x0f];
    }
    return s;
}

bool valid_uuid(std::string_view u) {
    if (u.size() != 36) return false;
    for (std::size_t i = 0; i < u.size(); ++i) {
        const char c = u[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace mpp::store
