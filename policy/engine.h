// policy/engine.h: the SMTP-level check engine that both front ends call: for one recipient
// (Transaction at RCPT) it finds the direction and the recipient's policy group and runs, in
// order: global <deny>/<allow>, the group's <deny>/<allow>, the mixed-policy split
// (split-recipients: 452 4.5.3 to a recipient of another group than the transaction's first
// accepted one), the client block list, RBLs (through a hook: a sum of listing scores at the
// group's reject-at refuses, below it the score rides on the Verdict), spam traps, thresholds,
// then greylisting (through a hook), and builds the reply from the <reject>/<defer> templates. Front ends take it as std::function<Verdict(const Transaction&)>.
//
// Owns: the current config snapshot (swapped by set_config(); a call uses the snapshot it
// started with) and per-rule shadow counters. The state tables (EngineState: block list and
// threshold counters) live outside the snapshot and survive reloads; the greylist table belongs
// to its own unit and is reached only through EngineHooks::greylist.
// Threads: evaluate(), explain(), record_spam() and the counters are thread-safe and are called
// from the policy event loop and libmilter worker threads at once.
// Stages: every check runs at RCPT (Stage::rcpt). At END-OF-MESSAGE (Postfix's
// smtpd_end_of_data_restrictions, the milter's end-of-message) only <allow>/<deny> and the
// thresholds that count recipients or size, or key on the subject (Transaction::subject, given
// by the milter only) (policy/threshold.h threshold_amount), which may
// refuse the whole message; the group is the recipient's when the request names one (Postfix
// sends the recipient at END-OF-MESSAGE only when there is one), else the group matched
// without a recipient. Any other stage gets Action::none.
// Replies: the group's <reject|defer on=CONDITION>, else its on="any", else the global ones,
// else the built-in 550 5.7.1 / 451 4.7.1 (450 4.7.1 for greylisting). Macros as the man page
// lists them; values from the client are cleaned (control and non-ASCII bytes become '?'). A
// multi-line template gives Verdict::text with its lines separated by '\n' (each trimmed, blank
// ones dropped): the milter sends them as a multi-line reply, the policy server on one line.
// Shadow mode: a <deny>, threshold, spam trap or greylist with mode="shadow" is evaluated, logged ("action=none
// shadow=\"would have rejected\"") and counted in shadow_counts(), never enforced: the pipeline
// goes on, and when nothing else refuses, the Verdict carries the would-be action with
// shadow=true (front ends answer DUNNO). A shadow threshold keeps its own counters and blocks,
// as if enforced; a shadow trap blocks nobody (the block list is shared), so it reports each
// trap hit, not the refusals that would follow; a shadow greylist records triplets as usual,
// so it reports what it would defer (first sight, retries too early) and passes the rest.
// Logging: one line per decision other than "none" (none at debug level):
//   QUEUEID: client=NAME[ADDR] from=<S> to=<R> group=G check=C action=A reason="..."
// Failures: the engine itself has no failing dependency; a regex limit is "no match"; the
// greylist hook maps its own store failures to the group's on-error.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "policy/blocklist.h"
#include "policy/rbl.h"
#include "policy/split.h"
#include "policy/threshold.h"
#include "policy/transaction.h"
#include "policy/verdict.h"

namespace mpp::policy {

// The tables that outlive config snapshots (and, once persisted, restarts).
struct EngineState {
    explicit EngineState(Clock& clock, std::size_t max_blocks = Blocklist::kDefaultMaxEntries,
                         std::size_t max_threshold_keys = Thresholds::kDefaultMaxKeys)
        : blocks(clock, max_blocks), thresholds(clock, max_threshold_keys), first_groups(clock) {}
    Blocklist blocks;
    Thresholds thresholds;
    FirstGroups first_groups;  // split-recipients
};

// A threshold crossed by a key (any action: every crossing is reported, once per block). The
// daemon mails it (policy/alerts.h: <alerts>, alert-to, rate-limited); without a hook the
// crossing is only logged.
struct ThresholdAlert {
    std::string group;
    std::string rule;
    std::string key;
    config::ThresholdAction action = config::ThresholdAction::block;
    long messages = 0;            // in the rule's unit (threshold_unit): messages, recipients, KiB
    std::string unit = "messages";  // unit_name() of the rule
    long spams = 0;
    std::vector<std::string> to;  // alert-to, else <alerts to>
    config::Duration period{0};
    config::Duration block_for{0};
};

// Both hooks are called on the thread that calls evaluate()/explain(), from several threads at
// once: they must be thread-safe, and must not block (the policy event loop calls them).
struct EngineHooks {
    // Greylisting seam (policy/greylist.h plugs in here). Called for a recipient whose group has
    // a <greylist> and who is not exempt; returns Action::greylist (or defer) to defer it, else
    // none (Verdict::prepend is passed on either way). dry_run: explain, change no state.
    std::function<Verdict(const Transaction&, const config::GreylistCfg&, bool dry_run)> greylist;
    // Alert seam: a threshold crossing (see ThresholdAlert).
    std::function<void(const ThresholdAlert&)> alert;
    // RBL seam (policy/rbl.h RblChecker plugs in here, with the DNS): called at RCPT for a
    // group with <rbl use> lines, after the block list and before spam traps. Unlike the other
    // hooks it may wait for DNS answers, up to the RBLs' timeouts.
    std::function<RblOutcome(const config::Config&, const config::GroupCfg&, const Transaction&)>
        rbl;
};

// One line of `mppctl explain`.
struct TraceStep {
    std::string check;   // "deny", "allow", "blocklist", "rbl:NAME", "spamtrap", "threshold:NAME",
                         // "greylist"
    std::string result;  // "pass", "hit", "exempt", "skip", "shadow", "error"
    std::string detail;  // why
};

struct Explanation {
    std::string group;
    config::Direction direction = config::Direction::inbound;
    std::vector<TraceStep> steps;
    Verdict verdict;
};

class Engine {
public:
    Engine(std::shared_ptr<const config::Config> config, Clock& clock, EngineState& state,
           EngineHooks hooks = {});

    // Decides one recipient, enforcing: springs traps, counts thresholds, greylists.
    Verdict evaluate(const Transaction&);
    // The same decision with its per-check trace, changing no state (mppctl explain).
    Explanation explain(const Transaction&) const;
    // From the content stage: the message of `t` (t.recipient names the group) was spam; counts
    // for the group's thresholds with spams > 0. Deduplicated per message (instance/queue id).
    void record_spam(const Transaction& t);

    void set_config(std::shared_ptr<const config::Config>);
    std::shared_ptr<const config::Config> config() const;

    // Decisions of shadow-mode rules, keyed "GROUP/CHECK" ("default/threshold:outbound-rate").
    std::map<std::string, long> shadow_counts() const;

private:
    struct Run;
    void count_shadow(const std::string& name) const;
    // The pipeline; dry_run (explain) changes no state and fills trace.steps; trace.group and
    // .direction are always set. Const: the tables are reached through state_.
    Verdict run(const config::Config&, const Transaction&, bool dry_run, Explanation& trace) const;

    std::shared_ptr<const config::Config> config_;
    mutable std::mutex config_mutex_;
    Clock& clock_;
    EngineState& state_;
    EngineHooks hooks_;
    mutable std::mutex shadow_mutex_;
    mutable std::map<std::string, long> shadow_;
};

// The reply of `condition` for `group` (see above): code, dsn and the template text.
const config::ReplyCfg* find_reply(const config::Config&, const config::GroupCfg&,
                                   config::Condition, bool reject);

// Expands a reply template for one transaction; macros unknown here expand to "". Lines
// separated by '\n', trimmed, blank ones dropped.
std::string expand_reply(const std::string& text, const Transaction&, const std::string& group,
                         const std::string& check, const std::string& reason,
                         const std::string& delay = "", const std::string& rbl = "");

// The Postfix-style decision line (without the queue id, which the logger adds).
std::string decision_line(const Transaction&, const std::string& group, const Verdict&);

}  // namespace mpp::policy
