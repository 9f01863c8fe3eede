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

// Walks `text`: plain(raw) for each run of text between '%' tokens, token(kind, name, raw) for
// each token, in order; stops when token returns false.
template <typename Plain, typename Token>
void walk(std::string_view text, Plain plain, Token token) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] != '%') {
            ++i;
            continue;
        }
        if (i > start) plain(text.substr(start, i - start));
        std::size_t len = 1;
        std::string_view name;
        const Tok kind = scan(text, i, len, name);
        if (!token(kind, name, text.substr(i, len))) return;
        i += len;
        start = i;
    }
    if (start < text.size()) plain(text.substr(start));
}

void ignore(std::string_view) {}

}  // namespace

std::string check(std::string_view text, const MacroSet& known) {
    std::string error;
    walk(text, ignore, [&](Tok kind, std::string_view name, std::string_view) {
        if (kind == Tok::broken) {
            error = "unterminated macro \"" + std::string(name) +
                    "\" (a macro is written %NAME%; write %% for a literal %)";
            return false;
        }
        if (kind == Tok::macro && std::find(known.begin(), known.end(), name) == known.end()) {
            error = "unknown macro %" + std::string(name) + "%";
            if (known.empty()) {
                error += " (this text takes no macros)";
            } else {
                error += " (known:";
                for (auto k : known) error += " %" + std::string(k) + "%";
                error += ")";
            }
            return false;
        }
        return true;
    });
    return error;
}

std::vector<std::string> macros(std::string_view text) {
    std::vector<std::string> out;
    walk(text, ignore, [&](Tok kind, std::string_view name, std::string_view) {
        if (kind == Tok::macro && std::find(out.begin(), out.end(), name) == out.end())
            out.emplace_back(name);
        return true;
    });
    return out;
}

std::string expand(std::string_view text,
                   const std::function<std::optional<std::string>(std::string_view)>& lookup) {
    std::string out;
    out.reserve(text.size());
    walk(text, [&](std::string_view raw) { out.append(raw); },
         [&](Tok kind, std::string_view name, std::string_view raw) {
             std::optional<std::string> value;
             if (kind == Tok::escape)
                 out += '%';
             else if (kind == Tok::macro && (value = lookup(name)))
                 out += *value;
             else
                 out.append(raw);
             return true;
         });
    return out;
}

}  // namespace mpp::tmpl
