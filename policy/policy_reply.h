// policy/policy_reply.h: a Verdict as a Postfix policy reply (`action=...`, access(5) syntax).
//
// Pure code, any thread. Wire format of the whole reply: "action=VALUE\n\n".
// Mapping (reply_for): none: DUNNO, or OK when standalone (no milter follows); accept: OK;
// greylist: "DEFER_IF_PERMIT DSN text" (Postfix replies with its access_map_defer_code, 450 by
// default, and only when a later restriction would permit: a later reject still wins); defer:
// "CODE DSN text" (a 4xx code, default 451 4.7.1); reject: "CODE DSN text" (a 5xx code, default
// 550 5.7.1). A code or DSN of the wrong class is replaced by the default; empty text by a
// default text. Text: control characters become spaces, cut at kMaxText bytes. A shadow verdict
// is answered as none (it is only logged). One action per reply, so: when the answer is DUNNO
// and verdict.prepend is not empty, the reply is "PREPEND <first header>" (which Postfix treats
// like DUNNO plus the header); further prepends, prepends that are not "Name: value", and
// prepends on OK/DEFER/REJECT answers are dropped (dropped_prepends() counts them for the log).
#pragma once

#include <cstddef>
#include <string>

#include "policy/verdict.h"

namespace mpp::policy {

inline constexpr std::size_t kMaxText = 400;

// The action value, without "action=" and the newlines.
std::string reply_for(const Verdict& verdict, bool standalone);

// How many of verdict.prepend the reply does not carry.
std::size_t dropped_prepends(const Verdict& verdict, bool standalone);

}  // namespace mpp::policy
