// engines/content_verdict.h: one policy group's content verdict on a message: its header
// filters, the results of the engines its <scan> names, and the RBL score its recipients got at
// RCPT, combined by the group's <scan> and <score> into one action.
//
// Owns: nothing; a pure function over a config snapshot and the results. Threads: any.
// Order (first match decides; "before scores" as the admin expects):
//   1. a virus found by one of the group's engines: <scan on-virus> (reject, quarantine,
//      discard); condition virus, %REASON% "virus NAME (ENGINE)".
//   2. clamd's scan limits exceeded (an archive bomb): that <clamd on-limits> (reject,
//      quarantine, or accept = go on); condition limits.
//   3. a header filter's decisive reject, defer, discard or quarantine; condition
//      header-filter.
//   4. an engine that failed (error, timeout, breaker open): its on-error, or <scan on-error>
//      when that is not "engine": defer (condition error), tag (accepted, marked unchecked:
//      "X-MPP-Status: unchecked (ENGINE)"), accept (nothing).
//   5. the score: header-filter scores + the RBL score + each spamd score times its weight.
//      With <score>: reject-at, quarantine-at, tag-at (condition score). Without <score>: a
//      message spamd itself calls spam (score >= its required score) is tagged.
//   6. a header filter's tag.
// A group without <scan>, <score>, header filters and RBL scores accepts with no score.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engines/header_filter.h"
#include "engines/scanner.h"
#include "lib/config.h"

namespace mpp::engines {

struct GroupVerdict {
    enum class Action { accept, tag, quarantine, discard, defer, reject };
    Action action = Action::accept;
    config::Condition condition = config::Condition::any;  // the reply template's condition
    std::string reason;                  // %REASON%, and the log line's reason
    std::optional<double> score;         // the sum of step 5, when anything scored
    const config::ScoreCfg* score_cfg = nullptr;  // the group's enabled <score>, if any
    std::vector<std::string> unchecked;  // engines that failed with on-error tag
    std::string checks;                  // for the log line: "spamd:sa(7.3) clamd:av(clean)"
    HeaderFilterResult filters;
};

// "accept", "tag", "quarantine", "discard", "defer", "reject".
const char* action_name(GroupVerdict::Action);

// The engine names the group's enabled <scan> asks for (none without one).
std::vector<std::string> scan_engines(const config::GroupCfg&);

// `results`: every engine result of the message (those of other groups' engines are ignored);
// `rbl_score`/`rbl_checks`: the highest RBL score among the group's recipients and its
// listings ("rbl:zen(6)").
GroupVerdict decide_group(const config::Config&, const config::GroupCfg&,
                          HeaderFilterResult filters, const std::vector<EngineResult>& results,
                          double rbl_score = 0, const std::string& rbl_checks = "");

// "spamd:sa(7.3/5)" "clamd:av(virus Eicar-Test)" "clamd:av(error: timeout after 60s)".
std::string result_text(const EngineResult&);

}  // namespace mpp::engines
