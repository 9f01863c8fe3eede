// policy/subject_key.cc: the subject key of a subject threshold (see subject_key.h).
#include "policy/subject_key.h"

#include <locale.h>
#include <wctype.h>

#include <cstdint>
#include <optional>

#include "lib/utf8.h"

namespace mpp::policy {
namespace {

bool space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// glibc's built-in C.UTF-8 locale, for towlower_l; nullptr when the C library lacks it. Made
// once, never freed (one per process, like the C library's own locales).
locale_t utf8_locale() {
    static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    return loc;
}

// Decodes the code points of valid UTF-8 (shortest forms, no surrogates, no NUL); nullopt for
// anything else.
std::optional<std::u32string> decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        char32_t cp = 0, min = 0;
        if (b == 0) return std::nullopt;
        if (b < 0x80) { n = 1; cp = b; }
        else if ((b & 0xE0) == 0xC0) { n = 2; cp = b & 0x1F; min = 0x80; }
        else if ((b & 0xF0) == 0xE0) { n = 3; cp = b & 0x0F; min = 0x800; }
        else if ((b & 0xF8) == 0xF0) { n = 4; cp = b & 0x07; min = 0x10000; }
        else return std::nullopt;
        if (i + n > s.size()) return std::nullopt;
        for (std::size_t k = 1; k < n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
        out.push_back(cp);
        i += n;
    }
    return out;
}

void encode_utf8(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string lower_text(std::string_view s) {
    const locale_t loc = utf8_locale();
    if (loc) {
        if (auto cps = decode_utf8(s)) {
            std::string out;
            out.reserve(s.size());
            for (char32_t cp : *cps) {
                const wint_t low = towlower_l(static_cast<wint_t>(cp), loc);
                const auto l = static_cast<char32_t>(low);
                encode_utf8(l <= 0x10FFFF && !(l >= 0xD800 && l <= 0xDFFF) ? l : cp, out);
            }
            return out;
        }
    }
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

}  // namespace

std::string normalise_subject(std::string_view decoded_subject) {
    const std::string lowered = lower_text(decoded_subject);
    std::string key;
    key.reserve(lowered.size());
    bool pending_space = false;
    for (char c : lowered) {
        if (space(c)) {
            pending_space = !key.empty();
            continue;
        }
        if (pending_space) key += ' ';
        pending_space = false;
        key += c;
    }
    key = cut_utf8(std::move(key), kMaxSubjectKey);
    if (!key.empty() && key.back() == ' ') key.pop_back();  // the cut fell after a blank
    return key;
}

}  // namespace mpp::policy
