// engines/header_filter.cc: header filters, header value decoding and subject keys (see
// header_filter.h for the contract).
//
// GMime's strings are owned by GStringPtr (g_free) from the moment GMime returns them.
#include "engines/header_filter.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/utf8.h"
#include "policy/lists.h"

namespace mpp::engines {

namespace {

struct GFree {
    void operator()(char* p) const { g_free(p); }
};
using GStringPtr = std::unique_ptr<char, GFree>;

bool blank(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Whether GMime has anything to do: an encoded word may start, or 8-bit text to convert.
bool needs_decoding(std::string_view v) {
    if (v.find("=?") != std::string_view::npos) return true;
    return std::any_of(v.begin(), v.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string_view action_word(config::HeaderAction a) {
    switch (a) {
        case config::HeaderAction::reject: return "reject";
        case config::HeaderAction::defer: return "defer";
        case config::HeaderAction::discard: return "discard";
        case config::HeaderAction::quarantine: return "quarantine";
        case config::HeaderAction::tag: return "tag";
        case config::HeaderAction::score: return "score";
        case config::HeaderAction::accept: return "accept";
    }
    return "?";
}

std::string number(double d) {
    std::string s = log::cat(d);
    return d >= 0 ? "+" + s : s;
}

// One header as the filters see it; each form is computed on first use and kept for the
// other filters of the same evaluation.
class FieldView {
public:
    FieldView(const Header& h, std::size_t max_size) : h_(h), max_size_(max_size) {}

    bool cut() const { return h_.value.size() > max_size_; }

    const std::string& text(config::HeaderMatch m, bool whole_field) {
        const bool raw = m == config::HeaderMatch::raw;
        auto& slot = whole_field ? (raw ? field_raw_ : field_decoded_) : (raw ? raw_ : decoded_);
        if (!slot) {
            if (whole_field)
                slot = h_.name + ": " + text(m, false);
            else if (raw)
                slot = unfold(std::string_view(h_.value).substr(0, max_size_));
            else
                slot = decode_value(std::string_view(h_.value).substr(0, max_size_));
        }
        return *slot;
    }

private:
    const Header& h_;
    std::size_t max_size_;
    std::optional<std::string> raw_, decoded_, field_raw_, field_decoded_;
};

}  // namespace

void ensure_gmime() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

std::string unfold(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value)
        if (c != '\r' && c != '\n') out += c;
    std::size_t b = 0, e = out.size();
    while (b < e && blank(out[b])) ++b;
    while (e > b && blank(out[e - 1])) --e;
    return out.substr(b, e - b);
}

std::string decode_value(std::string_view value) {
    std::string text = unfold(value);
    if (!needs_decoding(text) || text.find('\0') != std::string::npos) return text;
    ensure_gmime();
    GStringPtr decoded(g_mime_utils_header_decode_text(nullptr, text.c_str()));
    if (!decoded) return text;
    return std::string(decoded.get());
}

std::string subject_key(std::string_view subject_value) {
    return policy::normalise_subject(decode_value(subject_value));
}

std::optional<std::string> message_subject_key(const std::vector<Header>& headers) {
    for (const auto& h : headers)
        if (iequals(h.name, "Subject")) return subject_key(h.value);
    return std::nullopt;
}

HeaderFilterLimits header_filter_limits(const config::Config& cfg) {
    HeaderFilterLimits l;
    if (cfg.limits.max_headers > 0)
        l.max_headers = static_cast<std::size_t>(cfg.limits.max_headers);
    if (cfg.limits.max_header_size > 0) l.max_header_size = cfg.limits.max_header_size;
    l.regex = policy::match_limits(cfg);
    return l;
}

HeaderFilterResult evaluate(const config::GroupCfg& group, const std::vector<Header>& headers,
                            const HeaderFilterLimits& limits, std::string_view queue_id) {
    HeaderFilterResult out;
    if (group.header_filters.empty()) return out;
    const std::size_t n = std::min(headers.size(), limits.max_headers);
    out.headers_cut = headers.size() > n;
    std::vector<FieldView> views;
    views.reserve(n);
    for (std::size_t i = 0; i < n; ++i) views.emplace_back(headers[i], limits.max_header_size);

    for (const auto& f : group.header_filters) {
        if (!f.pattern) continue;
        const bool whole = f.header.empty();
        for (std::size_t i = 0; i < n; ++i) {
            const Header& h = headers[i];
            if (!whole && !iequals(h.name, f.header)) continue;
            const std::string& subject = views[i].text(f.match, whole);
            if (views[i].cut()) out.values_cut = true;
            const MatchResult r = f.pattern->match(subject, limits.regex);
            if (r == MatchResult::limit) {
                ++out.limit_hits;
                metrics::get("regex-limit-hits").inc();
                log::write_qid(log::Level::warning, queue_id,
                               log::cat("group ", group.name, ": header-filter at line ", f.line,
                                        " pattern \"", f.pattern->pattern(), "\" hit the regex ",
                                        "match limits on ", h.name, "; counted as no match"));
                continue;
            }
            if (r == MatchResult::error) {
                log::write_qid(log::Level::warning, queue_id,
                               log::cat("group ", group.name, ": header-filter at line ", f.line,
                                        " pattern \"", f.pattern->pattern(), "\" failed to match ",
                                        h.name, "; counted as no match"));
                continue;
            }
            if (r != MatchResult::match) continue;
            if (f.action == config::HeaderAction::score) {
                out.score += f.score;
                out.scores.push_back(HeaderScore{f.line, f.score, h.name});
                break;  // a score filter counts once per message
            }
            out.filter = &f;
            out.action = f.action;
            out.header = h.name;
            out.value = cut_utf8(subject, HeaderFilterResult::kMaxValue);
            return out;
        }
    }
    return out;
}

std::string reason(const HeaderFilterResult& r) {
    if (!r.filter) return {};
    return r.filter->reason.empty() ? r.header : r.filter->reason;
}

std::string checks_text(const HeaderFilterResult& r) {
    std::string out;
    auto add = [&](int line, const std::string& what) {
        if (!out.empty()) out += ',';
        out += log::cat("header-filter:", line, "(", what, ")");
    };
    for (const auto& s : r.scores) add(s.line, number(s.score));
    if (r.filter) add(r.filter->line, std::string(action_word(*r.action)));
    return out;
}

}  // namespace mpp::engines
