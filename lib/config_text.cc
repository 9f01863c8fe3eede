// lib/config_text.cc: the raw-text side of loading a config: lexical checks on the bytes before
// the XML parser sees them, the diagnostics collector (Checker), and text helpers (entries with
// their lines, dedent).
//
// Why a lexical pass: tinyxml2 stops at a NUL byte, accepts any bytes as text, passes
// <!DOCTYPE ...> through as an unknown node and mangles unknown entity references. mppd takes
// none of that: the file must be UTF-8 (a UTF-8 byte order mark is skipped), without control
// characters other than tab, LF and CR before LF (a lone CR would shift the parser's lines),
// without document type or entity declarations (no entity expansion, so no "billion laughs"), and
// with only the five predefined entities and valid character references. Limits: 16 MiB; the first
// fatal problem stops the scan.
#include <algorithm>
#include <cstdio>

#include "lib/config_loader.h"

namespace mpp::config {

namespace {

constexpr std::size_t kMaxFile = 16 * 1024 * 1024;

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    if (c < 0x80) return 1;
    std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((b(k) & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return n;
}

bool valid_char_ref(std::string_view body) {  // after "&#", before ';'
    unsigned long v = 0;
    bool hex = !body.empty() && body[0] == 'x';
    std::string_view digits = hex ? body.substr(1) : body;
    if (digits.empty() || digits.size() > 7) return false;
    for (char ch : digits) {
        int d = (ch >= '0' && ch <= '9')        ? ch - '0'
                : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                : -1;
        if (d < 0) return false;
        v = v * (hex ? 16 : 10) + static_cast<unsigned long>(d);
    }
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
           (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

}  // namespace

bool prescan(std::string_view text, schema::Checker& c) {
    if (text.size() > kMaxFile) {
        c.error(0, "the file is larger than 16 MiB");
        return false;
    }
    auto starts = [&](std::size_t i, std::string_view p) { return text.substr(i, p.size()) == p; };
    if (starts(0, "\xFF\xFE") || starts(0, "\xFE\xFF") ||
        starts(0, std::string_view("\0\0\xFE\xFF", 4))) {
        c.error(
            1, "the file is UTF-16 or UTF-32 (it starts with a byte order mark): save it as UTF-8");
        return false;
    }
    int line = 1;
    bool ok = true;
    std::size_t i = starts(0, "\xEF\xBB\xBF") ? 3 : 0;
    while (i < text.size() && !c.full()) {
        unsigned char ch = static_cast<unsigned char>(text[i]);
        if (ch == '\n') {
            ++line;
            ++i;
            continue;
        }
        if (ch == 0) {
            c.error(line, "NUL byte in the file");
            return false;
        }
        if (ch == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n')) {
            // The XML parser turns a lone CR into a line break, which would shift every line.
            c.error(line, "carriage return without a line feed: use LF or CRLF line endings");
            return false;
        }
        if (ch < 0x20 && ch != '\t' && ch != '\r') {
            char buf[64];
            std::snprintf(buf, sizeof buf, "control character 0x%02X in the file", ch);
            c.error(line, buf);
            ok = false;
            ++i;
            continue;
        }
        if (ch >= 0x80) {
            std::size_t n = utf8_len(text, i);
            if (n == 0) {
                char buf[64];
                std::snprintf(buf, sizeof buf,
                              "invalid UTF-8 (byte 0x%02X): the file must be UTF-8", ch);
                c.error(line, buf);
                return false;
            }
            i += n;
            continue;
        }
        if (ch == '<') {
            // Skip comments, CDATA and processing instructions whole (they may hold '&').
            std::string_view end;
            if (starts(i, "<!--"))
                end = "-->";
            else if (starts(i, "<![CDATA["))
                end = "]]>";
            else if (starts(i, "<?"))
                end = "?>";
            if (!end.empty()) {
                std::size_t stop = text.find(end, i);
                std::size_t to = stop == std::string_view::npos ? text.size() : stop + end.size();
                for (std::size_t k = i; k < to; ++k) {
                    unsigned char b = static_cast<unsigned char>(text[k]);
                    if (b == 0) {
                        c.error(line, "NUL byte in the file");
                        return false;
                    }
                    if (b >= 0x80) {
                        std::size_t n = utf8_len(text, k);
                        if (n == 0) {
                            c.error(line, "invalid UTF-8: the file must be UTF-8");
                            return false;
                        }
                        k += n - 1;
                    } else if (b == '\n') {
                        ++line;
                    } else if (b == '\r' && (k + 1 >= to || text[k + 1] != '\n')) {
                        c.error(line,
                                "carriage return without a line feed: use LF or CRLF line endings");
                        return false;
                    } else if (b < 0x20 && b != '\t' && b != '\r') {
                        c.error(line, "control character in the file");
                        ok = false;
                    }
                }
                i = to;
                continue;
            }
            if (starts(i, "<!DOCTYPE") || starts(i, "<!doctype") || starts(i, "<!ENTITY")) {
                c.error(line,
                        "<!DOCTYPE> is refused: the config takes no document type or entity "
                        "declarations");
                return false;
            }
            if (starts(i, "<!")) {
                c.error(line, "unsupported markup \"<!\" (only comments and CDATA sections)");
                ok = false;
            }
        } else if (ch == '&') {
            std::size_t semi = text.find(';', i);
            bool closed = semi != std::string_view::npos && semi - i <= 12;
            std::string_view ref = closed ? text.substr(i + 1, semi - i - 1) : std::string_view{};
            bool good = ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" ||
                        ref == "apos" ||
                        (ref.size() > 1 && ref[0] == '#' && valid_char_ref(ref.substr(1)));
            if (!good) {
                c.error(line, closed ? "bad entity reference \"&" + std::string(ref) +
                                           ";\" (only &amp; &lt; &gt; &quot; &apos; and &#N; exist)"
                                     : std::string("a bare '&': write &amp; for '&'"));
                ok = false;
            }
        }
        ++i;
    }
    return ok;
}

// NodeInfo.

bool schema::NodeInfo::has(std::string_view attr) const {
    return std::any_of(attrs.begin(), attrs.end(), [&](const auto& a) { return a.first == attr; });
}

int schema::NodeInfo::line_of(std::string_view attr) const {
    for (const auto& [name, l] : attrs)
        if (name == attr) return l;
    return line;
}

// Checker.

void schema::Checker::error(int line, std::string message) {
    if (errors_ >= kMaxErrors) {
        ++dropped_;
        return;
    }
    if (++errors_ == kMaxErrors)
        message += " (too many errors: the rest of the file is not checked)";
    diags_.push_back(Diagnostic{Diagnostic::Severity::error, file_, line, std::move(message)});
}

void schema::Checker::warning(int line, std::string message) {
    if (diags_.size() >= 4 * kMaxErrors) {
        ++dropped_;
        return;
    }
    diags_.push_back(Diagnostic{Diagnostic::Severity::warning, file_, line, std::move(message)});
}

std::vector<Diagnostic> schema::Checker::take() {
    std::stable_sort(diags_.begin(), diags_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    return std::move(diags_);
}

std::vector<std::pair<std::string_view, int>> schema::Checker::entries(std::string_view text,
                                                                       int line) {
    std::vector<std::pair<std::string_view, int>> out;
    std::size_t i = 0;
    while (i < text.size()) {
        char ch = text[i];
        if (ch == '\n') {
            ++line;
            ++i;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r') {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\r' &&
               text[j] != '\n')
            ++j;
        out.emplace_back(text.substr(i, j - i), line);
        i = j;
    }
    return out;
}

std::string schema::Checker::dedent(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view l = text.substr(start, end - start);
        while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r'))
            l.remove_suffix(1);
        lines.push_back(l);
        start = end + 1;
    }
    while (!lines.empty() && lines.front().empty()) lines.erase(lines.begin());
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    std::size_t indent = std::string_view::npos;
    for (auto l : lines)
        if (!l.empty()) indent = std::min(indent, l.find_first_not_of(" \t"));
    std::string out;
    for (std::size_t k = 0; k < lines.size(); ++k) {
        if (k) out += '\n';
        if (!lines[k].empty()) out.append(lines[k].substr(indent));
    }
    return out;
}

}  // namespace mpp::config
