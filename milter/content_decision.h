// milter/content_decision.h: the end-of-message content decision for a message to recipients
// of one or more policy groups: each group's verdict (engines/content_verdict.h: header
// filters, engine results, RBL score, <score>), combined into what the MTA is told.
//
// Owns: nothing but its result; pure code over a config snapshot and the inputs. Threads: any
// (libmilter workers); one call per message.
// Groups: each recipient's group is resolved as at RCPT (policy/groups.h); each group is
// decided once per message.
// Decision: reject, defer, discard and quarantine take the recipient out of normal delivery.
// When every recipient's group does so: with a reject or defer among them, the whole message
// gets the strictest (reject > defer), with the reply of the first group that decided it; else
// the message is quarantined for the recipients whose group quarantines and discarded
// (Kind::quarantine, or Kind::discard when none quarantines). Otherwise the message is accepted:
// the recipients whose group does not accept are removed (`removed`; `quarantined` those of them
// whose group quarantines), and of the groups that accept, the headers say: "X-MPP-Status:
// tagged (REASON)", "unchecked (ENGINE)"; "X-MPP-Score: N" (the highest score among them); the
// <score tag-header> ("X-Spam-Flag: YES") and <score subject-prefix> of a group that tags by
// score.
// Limits: at most as many groups as the configuration has; one verdict per group.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engines/content_verdict.h"
#include "lib/config.h"
#include "policy/transaction.h"

namespace mpp::milter {

struct GroupOutcome {
    const config::GroupCfg* group = nullptr;
    engines::GroupVerdict verdict;
};

// What the content stage knows of one recipient besides its address.
struct RecipientInput {
    policy::Transaction transaction;  // as at RCPT
    double rbl_score = 0;             // its RBL score at RCPT (policy/rbl.h), 0 if none
    std::string rbl_checks;           // "rbl:zen(6)"
};

struct ContentDecision {
    enum class Kind { accept, reject, defer, discard, quarantine };
    Kind kind = Kind::accept;  // for the whole message
    // The group (index into `groups`) that decided a whole-message refusal, and the index of
    // its first recipient (for the reply's %RCPT%).
    std::size_t decider = 0;
    std::size_t decider_recipient = 0;
    std::vector<GroupOutcome> groups;       // in order of first recipient
    std::vector<std::size_t> group_of;      // per recipient: index into `groups`
    std::vector<std::size_t> removed;       // recipients taken out of an accepted message
    std::vector<std::size_t> quarantined;   // recipients whose copy goes to the quarantine
    std::vector<std::string> tags;          // reasons of the tagging groups (accept)
    std::vector<std::string> unchecked;     // engines that failed with on-error tag
    std::optional<double> score;            // highest score of the groups that accept
    // A group tagged by score: its <score tag-header> (X-Spam-Flag without <score>) gets
    // "YES", and its subject-prefix ("" for none) goes before the subject.
    std::string flag_header;
    std::string subject_prefix;

    // The header lines for an accepted message (see above); none when nothing applies.
    std::vector<std::string> headers() const;
    // "default,sales": the recipients' groups, in order.
    std::string group_names() const;
    // Every group's checks, for the summary line.
    std::string checks() const;
};

// Decides as above from the message's header fields and the results of every engine run for
// it. A group whose verdict is quarantine but which `can_quarantine` says can't (no store, or
// <quarantine enabled="no">) rejects instead (its reason says so).
ContentDecision decide_content(const config::Config&, const std::vector<RecipientInput>&,
                               const std::vector<engines::Header>& headers,
                               const std::vector<engines::EngineResult>& results,
                               const std::function<bool(const config::GroupCfg&)>& can_quarantine,
                               std::string_view queue_id = {});

// The refusal rank of a verdict: reject 4, defer 3, discard 2, quarantine 1, else 0.
int refusal_rank(const engines::GroupVerdict&);

}  // namespace mpp::milter
