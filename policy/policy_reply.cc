// policy/policy_reply.cc: Verdict -> `action=...` (see policy_reply.h for the mapping).
#include "policy/policy_reply.h"

#include <string_view>

namespace mpp::policy {
namespace {

std::string clean_text(std::string_view text, std::string_view fallback) {
    std::string out;
    for (char c : text) {
        if (out.size() >= kMaxText) break;
        auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    while (!out.empty() && out.front() == ' ') out.erase(0, 1);
    return out.empty() ? std::string(fallback) : out;
}

std::string coded(const Verdict& v, int lo, int def_code, const char* def_dsn,
                  std::string_view def_text) {
    const char cls = static_cast<char>('0' + lo / 100);
    const int code = v.code >= lo && v.code < lo + 100 ? v.code : def_code;
    const std::string dsn = valid_dsn(v.dsn, cls) ? v.dsn : def_dsn;
    return std::to_string(code) + " " + dsn + " " + clean_text(v.text, def_text);
}

// "Name: value" with a header name of printable ASCII without ':' or space.
bool valid_header(std::string_view h) {
    const auto colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (std::size_t i = 0; i < colon; ++i) {
        auto u = static_cast<unsigned char>(h[i]);
        if (u <= 0x20 || u >= 0x7f) return false;
    }
    for (char c : h)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return h.size() <= kMaxText;
}

bool prepend_used(const Verdict& v, bool standalone) {
    const bool dunno = v.shadow || (v.action == Action::none && !standalone);
    return dunno && !v.prepend.empty() && valid_header(v.prepend.front());
}

}  // namespace

std::string reply_for(const Verdict& v, bool standalone) {
    if (prepend_used(v, standalone)) return "PREPEND " + v.prepend.front();
    if (v.shadow) return standalone ? "OK" : "DUNNO";
    switch (v.action) {
        case Action::none: return standalone ? "OK" : "DUNNO";
        case Action::accept: return "OK";
        case Action::greylist:
            return "DEFER_IF_PERMIT " + (valid_dsn(v.dsn, '4') ? v.dsn : std::string("4.7.1")) +
                   " " + clean_text(v.text, "Greylisted, please try again later");
        case Action::defer:
            return coded(v, 400, 451, "4.7.1", "Temporarily deferred, please try again later");
        case Action::reject: return coded(v, 500, 550, "5.7.1", "Rejected by policy");
    }
    return standalone ? "OK" : "DUNNO";
}

std::size_t dropped_prepends(const Verdict& v, bool standalone) {
    return v.prepend.size() - (prepend_used(v, standalone) ? 1 : 0);
}

}  // namespace mpp::policy
