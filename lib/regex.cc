// lib/regex.cc: PCRE2 compile and match behind mpp::Regex (see lib/regex.h for the contract).
//
// Every PCRE2 handle lives in a unique_ptr with its own deleter: the code (RegexCodePtr), and per
// match the match context and the match data. No handle outlives the call that made it, except
// the compiled code, which the Regex owns.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "lib/regex.h"

#include <pcre2.h>

#include <string>

namespace mpp {

void RegexCodeDeleter::operator()(pcre2_real_code_8* code) const { pcre2_code_free(code); }

namespace {

struct MatchDataDeleter {
    void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
using MatchDataPtr = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

struct MatchContextDeleter {
    void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};
using MatchContextPtr = std::unique_ptr<pcre2_match_context, MatchContextDeleter>;

std::string error_text(int code) {
    PCRE2_UCHAR buf[256];
    int n = pcre2_get_error_message(code, buf, sizeof buf);
    if (n < 0) return "unknown PCRE2 error " + std::to_string(code);
    return std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

}  // namespace

Regex::Compiled Regex::compile(std::string_view pattern, bool caseless) {
    Compiled out;
    if (pattern.size() > kMaxPatternLength) {
        out.error = "pattern is longer than " + std::to_string(kMaxPatternLength) + " bytes";
        return out;
    }
    int err = 0;
    PCRE2_SIZE offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (caseless ? PCRE2_CASELESS : 0);
    RegexCodePtr code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    options, &err, &offset, nullptr));
    if (!code) {
        out.offset = offset;
        out.error = error_text(err) + " at offset " + std::to_string(offset);
        return out;
    }
    uint32_t captures = 0;
    pcre2_pattern_info(code.get(), PCRE2_INFO_CAPTURECOUNT, &captures);
    out.regex =
        std::make_shared<const Regex>(Key{}, std::string(pattern), std::move(code), captures);
    return out;
}

MatchResult Regex::match(std::string_view subject, const MatchLimits& limits,
                         std::string* group1) const {
    MatchContextPtr ctx(pcre2_match_context_create(nullptr));
    MatchDataPtr data(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    if (!ctx || !data) return MatchResult::error;
    pcre2_set_match_limit(ctx.get(), limits.match_limit);
    pcre2_set_depth_limit(ctx.get(), limits.depth_limit);
    pcre2_set_heap_limit(ctx.get(), limits.heap_limit_kib);
    int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                         0, 0, data.get(), ctx.get());
    if (rc == PCRE2_ERROR_NOMATCH) return MatchResult::no_match;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        return MatchResult::limit;
    if (rc < 0) return MatchResult::error;
    if (group1 && captures_ >= 1 && rc >= 2) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
        if (ov[2] != PCRE2_UNSET && ov[3] >= ov[2])
            group1->assign(subject.substr(ov[2], ov[3] - ov[2]));
    }
    return MatchResult::match;
}

}  // namespace mpp
