// engines/header_filter.h: header content filters (<header-filter> in a group): PCRE2 patterns
// over a message's header fields, the first decisive match in file order deciding the content
// verdict; and the subject key of the backscatter threshold (<threshold key="subject">).
//
// Owns: nothing; pure functions over an immutable config snapshot and the message's headers.
// Threads: thread-safe; called from libmilter worker threads at end of headers or end of
// message. GMime is initialised once, on first use (ensure_gmime()).
// What a pattern sees: the field's value unfolded (every CR and LF removed, so a folded line
// reads as one, its continuation whitespace kept) and trimmed of leading and trailing blanks;
// with match="decoded" (the default) RFC 2047 encoded words are decoded to UTF-8 (B and Q, any
// charset iconv knows; an unknown charset loses only its own 8-bit bytes) and 8-bit text in
// another charset is converted to UTF-8 by GMime's guess; with match="raw" it is left as
// written. A filter without header="" sees every field as "Name: value". A value holding a NUL
// byte is never decoded (libmilter cannot pass one; test input can). Header names compare
// ASCII case-insensitively; patterns are caseless unless they say (?-i).
// Order: filters in file order; for each, the headers in message order. A score filter that
// matches adds its score once (score sum) and evaluation goes on; any other action that
// matches decides (reject, defer, discard, quarantine, tag, accept) and stops: accept means
// "skip the remaining filters", and score filters after a decision do not count.
// Limits: the first max_headers fields are examined (the rest are skipped, headers_cut), each
// value cut to max_header_size bytes before decoding (values_cut); both come from <limits>
// (max-headers, max-header-size), or kDefault* without one. Patterns run under the <limits>
// regex limits: a PCRE2 match, depth or heap limit hit counts as no match, with one warning
// per hit and the metric "regex-limit-hits" (RELIABILITY B16). Subject keys are at most
// kMaxSubjectKey bytes.
// Failures: none reach the caller; a PCRE2 error other than a limit is a warning and no match.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config.h"
#include "lib/regex.h"
#include "policy/subject_key.h"

namespace mpp::engines {

// One header field as the MTA passed it: `value` may be folded ("\r\n\t", "\n ") and may start
// with the blank after the colon.
struct Header {
    std::string name;
    std::string value;
};

struct HeaderFilterLimits {
    static constexpr std::size_t kDefaultMaxHeaders = 1000;
    static constexpr std::size_t kDefaultMaxHeaderSize = 64 * 1024;
    std::size_t max_headers = kDefaultMaxHeaders;
    std::size_t max_header_size = kDefaultMaxHeaderSize;
    MatchLimits regex;
};

// The limits of a snapshot's <limits> (0 there: the defaults above and lib/regex.h's).
HeaderFilterLimits header_filter_limits(const config::Config&);

// One score filter that matched.
struct HeaderScore {
    int line = 0;  // the <header-filter>'s line in the config
    double score = 0;
    std::string header;  // name of the field it matched, as the message wrote it
};

struct HeaderFilterResult {
    static constexpr std::size_t kMaxValue = 200;  // bytes of `value` kept, for logs

    const config::HeaderFilterCfg* filter = nullptr;  // the decisive filter; null: none
    std::optional<config::HeaderAction> action;       // its action (never score)
    std::string header;  // name of the field it matched, as the message wrote it
    std::string value;   // the text the pattern saw, cut to kMaxValue bytes
    double score = 0;    // sum of the score filters that matched before any decision
    std::vector<HeaderScore> scores;
    unsigned limit_hits = 0;   // matches stopped by a PCRE2 limit (each counted as no match)
    bool headers_cut = false;  // more than max_headers fields: the rest were not examined
    bool values_cut = false;   // a value over max_header_size was examined in part

    bool decided() const { return action.has_value(); }
};

// Runs the group's header filters over `headers`. `queue_id` prefixes the warnings.
HeaderFilterResult evaluate(const config::GroupCfg& group, const std::vector<Header>& headers,
                            const HeaderFilterLimits& limits = {},
                            std::string_view queue_id = {});

// %REASON% of a decision: the filter's reason, else the header name; "" without a decision.
std::string reason(const HeaderFilterResult&);

// For the summary log line: each score hit "header-filter:LINE(+S)" and the decision
// "header-filter:LINE(ACTION)", separated by commas; "" when nothing matched.
std::string checks_text(const HeaderFilterResult&);

// Value helpers, exposed for the milter and the tests.
// Unfolds (drops every CR and LF) and trims leading and trailing blanks (space, tab).
std::string unfold(std::string_view value);
// unfold() plus RFC 2047 decoding to UTF-8 (see the header comment).
std::string decode_value(std::string_view value);

// The key of a <threshold key="subject"> for a Subject value (as the MTA passed it):
// decode_value(), then policy::normalise_subject() (policy/subject_key.h: lower-cased, blanks
// made one space, trimmed, cut to kMaxSubjectKey bytes). An empty or blank subject gives "".
constexpr std::size_t kMaxSubjectKey = policy::kMaxSubjectKey;
std::string subject_key(std::string_view subject_value);
// subject_key() of the first Subject field; nullopt when the message has none.
std::optional<std::string> message_subject_key(const std::vector<Header>& headers);

// g_mime_init() once per process (decode_value() calls it; mppd may call it at start).
void ensure_gmime();

}  // namespace mpp::engines
