// milter/verdict_reply.cc: Verdict -> RCPT reply, header lines -> name and value (see
// verdict_reply.h for the mapping).
#include "milter/verdict_reply.h"

namespace mpp::milter {

namespace {

// One line: control characters become spaces, non-ASCII '?', cut, trimmed.
std::string clean_line(std::string_view text) {
    std::string clean;
    for (char c : text) {
        if (clean.size() >= kMaxReplyText) break;
        auto u = static_cast<unsigned char>(c);
        clean.push_back(u < 0x20 || u == 0x7f ? ' ' : u > 0x7f ? '?' : c);
    }
    const auto first = clean.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return clean.substr(first, clean.find_last_not_of(' ') - first + 1);
}

}  // namespace

std::string reply_text(std::string_view text, std::string_view fallback) {
    std::string lines;
    std::size_t count = 0;
    for (std::size_t start = 0; start <= text.size() && count < kMaxReplyLines;) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string line = clean_line(text.substr(start, end - start));
        if (!line.empty()) {
            if (count++ > 0) lines += '\n';
            lines += line;
        }
        start = end + 1;
    }
    if (lines.empty()) lines = clean_line(fallback);
    std::string out;
    out.reserve(lines.size());
    for (char c : lines) {
        out.push_back(c);
        if (c == '%') out.push_back('%');
    }
    return out;
}

namespace {

RcptReply coded(RcptReply::Kind kind, const policy::Verdict& v, int lo, int def_code,
                const char* def_dsn, std::string_view def_text) {
    const char cls = static_cast<char>('0' + lo / 100);
    RcptReply r;
    r.kind = kind;
    r.code = std::to_string(v.code >= lo && v.code < lo + 100 ? v.code : def_code);
    r.dsn = valid_dsn(v.dsn, cls) ? v.dsn : def_dsn;
    r.text = reply_text(v.text, def_text);
    return r;
}

}  // namespace

RcptReply reply_for(const policy::Verdict& v) {
    using policy::Action;
    if (v.shadow) return {};
    switch (v.action) {
        case Action::none:
        case Action::accept: return {};
        case Action::greylist:
            return coded(RcptReply::Kind::tempfail, v, 400, 450, "4.7.1",
                         "Greylisted, please try again later");
        case Action::defer:
            return coded(RcptReply::Kind::tempfail, v, 400, 451, "4.7.1",
                         "Temporarily deferred, please try again later");
        case Action::reject:
            return coded(RcptReply::Kind::reject, v, 500, 550, "5.7.1", "Rejected by policy");
    }
    return {};
}

std::optional<std::pair<std::string, std::string>> split_header(std::string_view line) {
    if (line.size() > kMaxReplyText) return std::nullopt;
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
    for (std::size_t i = 0; i < colon; ++i) {
        auto u = static_cast<unsigned char>(line[i]);
        if (u <= 0x20 || u >= 0x7f) return std::nullopt;
    }
    for (char c : line)
        if (c == '\r' || c == '\n' || c == '\0') return std::nullopt;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    return std::make_pair(std::string(line.substr(0, colon)), std::string(value));
}

}  // namespace mpp::milter
