// lib/template.cc: %MACRO% templates (see lib/template.h for the syntax).
#include "lib/template.h"

#include <algorithm>

namespace mpp::tmpl {

namespace {

constexpr std::size_t kMaxName = 32;

bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool name_char(char c) { return upper(c) || (c >= '0' && c <= '9') || c == '_'; }

// At text[i] == '%': kind of token and its length.
enum class Tok { literal_percent, escape, macro, broken };
Tok scan(std::string_view text, std::size_t i, std::size_t& len, std::string_view& name) {
    if (i + 1 < text.size() && text[i + 1] == '%') {
        len = 2;
        return Tok::escape;
    }
    if (i + 1 >= text.size() || !upper(text[i + 1])) {
        len = 1;
        return Tok::literal_percent;
    }
    std::size_t j = i + 1;
    while (j < text.size() && name_char(text[j]) && j - i - 1 < kMaxName + 1) ++j;
    if (j < text.size() && text[j] == '%' && j - i - 1 <= kMaxName) {
        name = text.substr(i + 1, j - i - 1);
        len = j - i + 1;
        return Tok::macro;
    }
    name = text.substr(i, std::min<std::size_t>(j - i, kMaxName + 1));
    len = j - i;
    return Tok::broken;
}

}  // namespace

std::string check(std::string_view text, const MacroSet& known) {
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '%') {
            ++i;
            continue;
        }
        std::size_t len = 1;
        std::string_view name;
        switch (scan(text, i, len, name)) {
        case Tok::broken:
            return "unterminated macro \"" + std::string(name) +
                   "\" (a macro is written %NAME%; "
                   "write %% for a literal %)";
        case Tok::macro:
            if (std::find(known.begin(), known.end(), name) == known.end()) {
                std::string msg = "unknown macro %" + std::string(name) + "%";
                if (known.empty()) return msg + " (this text takes no macros)";
                msg += " (known:";
                for (auto k : known) msg += " %" + std::string(k) + "%";
                return msg + ")";
            }
            break;
        default: break;
        }
        i += len;
    }
    return {};
}

std::vector<std::string> macros(std::string_view text) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '%') {
            ++i;
            continue;
        }
        std::size_t len = 1;
        std::string_view name;
        if (scan(text, i, len, name) == Tok::macro &&
            std::find(out.begin(), out.end(), name) == out.end())
            out.emplace_back(name);
        i += len;
    }
    return out;
}

std::string expand(std::string_view text,
                   const std::function<std::optional<std::string>(std::string_view)>& lookup) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '%') {
            out += text[i++];
            continue;
        }
        std::size_t len = 1;
        std::string_view name;
        switch (scan(text, i, len, name)) {
        case Tok::escape: out += '%'; break;
        case Tok::macro:
            if (auto v = lookup(name))
                out += *v;
            else
                out.append(text.substr(i, len));
            break;
        default: out.append(text.substr(i, len)); break;
        }
        i += len;
    }
    return out;
}

}  // namespace mpp::tmpl
