// milter/verdict_reply.h: a check Verdict (policy/verdict.h) as the milter's answer to one RCPT
// TO, and the "Name: value" headers of Verdict::prepend as libmilter header arguments.
//
// Pure code, any thread.
// Mapping (reply_for): none, accept and every shadow verdict: pass (SMFIS_CONTINUE, the engine
// has logged the shadow decision); greylist: tempfail, default 450 4.7.1; defer: tempfail,
// default 451 4.7.1; reject: reject, default 550 5.7.1. A code of the wrong class (a 5xx on a
// deferral...) or a malformed DSN is replaced by the default, so libmilter always sends the
// reply (it drops a 5xx reply on SMFIS_TEMPFAIL). Text: the Verdict's lines ('\n'-separated, at
// most kMaxReplyLines; more than one line becomes a multi-line reply, see
// MilterContext::set_reply); in each, control characters become spaces, bytes outside ASCII
// '?', cut at kMaxReplyText bytes, blank lines dropped, '%' doubled (libmilter's syntax); empty
// text gets a default text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "policy/verdict.h"

namespace mpp::milter {

inline constexpr std::size_t kMaxReplyText = 400;   // per line
inline constexpr std::size_t kMaxReplyLines = 32;   // libmilter's smfi_setmlreply bound

struct RcptReply {
    enum class Kind { pass, tempfail, reject };
    Kind kind = Kind::pass;
    std::string code;  // "450"; empty for pass
    std::string dsn;   // "4.7.1"
    std::string text;  // escaped for libmilter; lines separated by '\n'
};

RcptReply reply_for(const policy::Verdict&);

// The reply text as smfi_setreply wants it (see above); `fallback` when nothing is left.
std::string reply_text(std::string_view text, std::string_view fallback);

using policy::valid_dsn;

// "X-MPP-Greylist: delayed 5 seconds" -> {"X-MPP-Greylist", "delayed 5 seconds"}; nullopt for
// a line that is no header (no name, a name with space or control characters, CR, LF or NUL
// anywhere, longer than kMaxReplyText).
std::optional<std::pair<std::string, std::string>> split_header(std::string_view line);

}  // namespace mpp::milter
