// t/fuzz/header_decode_fuzz.cc: libFuzzer target for engines/header_filter: header value
// unfolding, RFC 2047 decoding through GMime, subject keys, and the filters over them.
//
// Input: a header block: fields separated by '\n', a line starting with a blank continuing the
// field before it (kept as a fold "\r\n" + line), a field's name up to its first ':' (no ':':
// the whole line is the name, the value empty). Nothing may crash, and these invariants must
// hold (a violation aborts, so the fuzzer reports it):
//   - unfold() leaves no CR or LF and no leading or trailing blank;
//   - subject_key() is at most kMaxSubjectKey bytes, holds no whitespace other than single
//     spaces between words, and is the same for the value folded or not;
//   - evaluate() with a fixed set of filters (raw, decoded, whole-field, score, and one
//     catastrophic pattern) decides by at most one filter, never a score one, and its score is
//     the sum of its score hits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engines/header_filter.h"

namespace {

using mpp::config::HeaderAction;
using mpp::config::HeaderFilterCfg;
using mpp::config::HeaderMatch;

void check(bool ok) {
    if (!ok) std::abort();
}

HeaderFilterCfg filter(int line, std::string header, const char* pattern, HeaderMatch match,
                       HeaderAction action, double score = 0) {
    HeaderFilterCfg f;
    f.line = line;
    f.header = std::move(header);
    f.pattern = mpp::Regex::compile(pattern).regex;
    check(f.pattern != nullptr);
    f.match = match;
    f.action = action;
    f.score = score;
    return f;
}

const mpp::config::GroupCfg& group() {
    static const mpp::config::GroupCfg g = [] {
        mpp::config::GroupCfg out;
        out.name = "fuzz";
        out.header_filters = {
            filter(1, "Subject", "(a+)+$", HeaderMatch::raw, HeaderAction::reject),
            filter(2, "Subject", "\\x{e9}t\\x{e9}", HeaderMatch::decoded, HeaderAction::score, 2),
            filter(3, "X-Mailer", "bulk", HeaderMatch::decoded, HeaderAction::score, -1.5),
            filter(4, "", "^from: .*@example\\.com", HeaderMatch::decoded, HeaderAction::tag),
            filter(5, "Subject", "^re: ", HeaderMatch::decoded, HeaderAction::accept),
            filter(6, "", "=\\?[^?]*\\?[bq]\\?", HeaderMatch::raw, HeaderAction::quarantine),
        };
        return out;
    }();
    return g;
}

std::vector<mpp::engines::Header> parse(std::string_view in) {
    std::vector<mpp::engines::Header> out;
    while (!in.empty()) {
        auto nl = in.find('\n');
        std::string_view line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
        if (!out.empty() && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
            out.back().value += "\r\n";
            out.back().value += line;
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            out.push_back({std::string(line), ""});
        else
            out.push_back(
                {std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
    }
    return out;
}

void key_invariants(const std::string& k) {
    check(k.size() <= mpp::engines::kMaxSubjectKey);
    if (k.empty()) return;
    check(k.front() != ' ' && k.back() != ' ');
    for (std::size_t i = 0; i < k.size(); ++i) {
        const char c = k[i];
        check(c != '\t' && c != '\r' && c != '\n' && c != '\v' && c != '\f');
        if (c == ' ') check(k[i + 1] != ' ');
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto headers = parse(input);
    for (const auto& h : headers) {
        const std::string u = mpp::engines::unfold(h.value);
        check(u.find_first_of("\r\n") == std::string::npos);
        check(u.empty() || (u.front() != ' ' && u.front() != '\t' && u.back() != ' ' &&
                            u.back() != '\t'));
        (void)mpp::engines::decode_value(h.value);
        const std::string k = mpp::engines::subject_key(h.value);
        key_invariants(k);
        check(mpp::engines::subject_key(u) == k);
    }
    (void)mpp::engines::message_subject_key(headers);

    mpp::engines::HeaderFilterLimits limits;
    limits.max_headers = 64;
    limits.max_header_size = 4096;
    limits.regex.match_limit = 10000;
    auto r = mpp::engines::evaluate(group(), headers, limits, "FUZZ");
    double sum = 0;
    for (const auto& s : r.scores) sum += s.score;
    check(sum == r.score);
    check(r.decided() == (r.filter != nullptr));
    if (r.filter) {
        check(r.action == r.filter->action && *r.action != HeaderAction::score);
        check(!mpp::engines::reason(r).empty() || r.header.empty());
    }
    (void)mpp::engines::checks_text(r);
    return 0;
}
