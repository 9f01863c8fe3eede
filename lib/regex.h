// lib/regex.h: PCRE2 regular expressions as used by the configuration (header filters, spam
// traps, regex lists, scanner output).
//
// Owns: one compiled pattern (pcre2_code, held by RegexCodePtr) per Regex; a Regex is immutable
// after compile and may be matched from any thread at once (each match allocates its own match
// data). Patterns are UTF-8 and compiled with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, so a subject
// with invalid UTF-8 (a hostile header) is matched, never rejected; and case-insensitively by
// default, as Postfix's regexp tables do ("(?-i)" turns that off inside a pattern).
// Limits: a pattern is at most kMaxPatternLength bytes. Matching takes explicit match, depth and
// heap limits (<limits> in the config); hitting one is reported as MatchResult::limit, which the
// caller treats as "no match" plus a warning (RELIABILITY B16), never as an error of the message.
// Failures: compile errors are values: the PCRE2 message and the offset in the pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct pcre2_real_code_8;

namespace mpp {

struct RegexCodeDeleter {
    void operator()(pcre2_real_code_8* code) const;
};
using RegexCodePtr = std::unique_ptr<pcre2_real_code_8, RegexCodeDeleter>;

struct MatchLimits {
    std::uint32_t match_limit = 100000;    // pcre2_set_match_limit
    std::uint32_t depth_limit = 10000;     // pcre2_set_depth_limit
    std::uint32_t heap_limit_kib = 20480;  // pcre2_set_heap_limit (KiB)
};

enum class MatchResult { no_match, match, limit, error };

class Regex {
public:
    static constexpr std::size_t kMaxPatternLength = 8192;

    struct Compiled;  // result of compile()

    // Compiles `pattern`; on failure the result holds no regex and an error such as
    // "missing closing parenthesis at offset 2".
    static Compiled compile(std::string_view pattern, bool caseless = true);

    const std::string& pattern() const { return pattern_; }
    std::uint32_t capture_count() const { return captures_; }

    // Matches anywhere in `subject`; when `group1` is given and the pattern has a first capture
    // group that took part in the match, it receives that group's text.
    MatchResult match(std::string_view subject, const MatchLimits& limits = {},
                      std::string* group1 = nullptr) const;

    // Only compile() can make one (the key is private to it).
    class Key {
        friend class Regex;
        Key() = default;
    };
    Regex(Key, std::string pattern, RegexCodePtr code, std::uint32_t captures)
        : pattern_(std::move(pattern)), code_(std::move(code)), captures_(captures) {}

private:
    std::string pattern_;
    RegexCodePtr code_;
    std::uint32_t captures_ = 0;
};

using RegexPtr = std::shared_ptr<const Regex>;

struct Regex::Compiled {
    RegexPtr regex;     // null on error
    std::string error;  // "<PCRE2 message> at offset N"
    std::size_t offset = 0;
    bool ok() const { return regex != nullptr; }
};

}  // namespace mpp
