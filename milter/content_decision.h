// milter/content_decision.h: the end-of-message decision of the header filters
// (<header-filter>) for a message to recipients of one or more policy groups.
//
// Owns: nothing but its result; pure code over a config snapshot and the message's header
// fields. Threads: any (libmilter workers); one call per message.
// Groups: each recipient's group is resolved as at RCPT (policy/groups.h); each group's filters
// run once per message (engines/header_filter.h evaluate). A group's outcome is its first
// decisive action, or its score sum.
// Decision: reject, defer and discard refuse. When every recipient's group refuses, the whole
// message gets the strictest refusal among them (reject > defer > discard), with the reply of
// the first group that decided it. Otherwise the message is accepted; the recipients whose
// group refuses are removed (`removed`), and of the groups that accept: tag asks for
// "X-MPP-Status: tagged (REASON)", quarantine for "X-MPP-Status: quarantine requested" (no
// quarantine store in this version), score for "X-MPP-Score: N" (the highest sum among them).
// Limits: at most as many groups as the configuration has; one result per group.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engines/header_filter.h"
#include "lib/config.h"
#include "policy/transaction.h"

namespace mpp::milter {

struct GroupOutcome {
    const config::GroupCfg* group = nullptr;
    engines::HeaderFilterResult result;
};

struct ContentDecision {
    enum class Kind { accept, reject, defer, discard };
    Kind kind = Kind::accept;  // for the whole message
    // The group (index into `groups`) whose filter decided a whole-message refusal, and the
    // index of its first recipient (for the reply's %RCPT%).
    std::size_t decider = 0;
    std::size_t decider_recipient = 0;
    std::vector<GroupOutcome> groups;     // in order of first recipient
    std::vector<std::size_t> group_of;    // per recipient: index into `groups`
    std::vector<std::size_t> removed;     // recipients (indexes) whose group refuses (accept)
    std::vector<std::string> tags;        // reasons of the tagging groups (accept)
    bool quarantine = false;              // a group that accepts asked for quarantine
    std::optional<double> score;          // highest score sum of the groups that accept

    // "X-MPP-Status: ..." and "X-MPP-Score: N" lines for an accepted message; none without
    // tag, quarantine or score.
    std::vector<std::string> headers() const;
    // "default,sales": the recipients' groups, in order.
    std::string group_names() const;
};

// Evaluates the header filters of each recipient's group (`recipients`: one transaction per
// accepted recipient, its recipient set) over `headers`, and decides as above.
ContentDecision decide_content(const config::Config&,
                               const std::vector<policy::Transaction>& recipients,
                               const std::vector<engines::Header>& headers,
                               std::string_view queue_id = {});

// The refusal rank of a group's outcome: reject 3, defer 2, discard 1, anything else 0.
int refusal_rank(const engines::HeaderFilterResult&);

}  // namespace mpp::milter
