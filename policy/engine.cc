// policy/engine.cc: the check pipeline for one recipient (see engine.h).
#include "policy/engine.h"

#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/groups.h"
#include "policy/lists.h"
#include "policy/spamtrap.h"

namespace mpp::policy {

using config::Condition;

namespace {

const char* threshold_action_name(config::ThresholdAction a) {
    switch (a) {
        case config::ThresholdAction::block: return "block";
        case config::ThresholdAction::defer: return "defer";
        case config::ThresholdAction::warn: return "warn";
        case config::ThresholdAction::quarantine: return "quarantine";
    }
    return "block";
}

std::string message_id(const Transaction& t) {
    return t.instance.empty() ? t.queue_id : t.instance;
}

bool direction_applies(config::Direction rule, config::Direction mail) {
    return rule == config::Direction::any || rule == mail;
}

}  // namespace

Engine::Engine(std::shared_ptr<const config::Config> config, Clock& clock, EngineState& state,
               EngineHooks hooks)
    : config_(std::move(config)), clock_(clock), state_(state), hooks_(std::move(hooks)) {
    if (!config_) config_ = std::make_shared<const config::Config>();
}

void Engine::set_config(std::shared_ptr<const config::Config> config) {
    if (!config) return;
    std::lock_guard lock(config_mutex_);
    config_ = std::move(config);
}

std::shared_ptr<const config::Config> Engine::config() const {
    std::lock_guard lock(config_mutex_);
    return config_;
}

void Engine::count_shadow(const std::string& name) const {
    std::lock_guard lock(shadow_mutex_);
    ++shadow_[name];
}

std::map<std::string, long> Engine::shadow_counts() const {
    std::lock_guard lock(shadow_mutex_);
    return shadow_;
}

// The state of one evaluation: the snapshot, the transaction, and how to finish a decision.
struct Engine::Run {
    const Engine& engine;
    const config::Config& cfg;
    const Transaction& t;
    bool dry_run;
    Explanation* trace;
    const config::GroupCfg* group = nullptr;
    mutable std::optional<Verdict> shadowed;  // the first decision of a shadow-mode rule

    void step(std::string check, std::string result, std::string detail) const {
        if (trace) trace->steps.push_back({std::move(check), std::move(result), std::move(detail)});
    }

    // A refusal or acceptance; `shadow`: logged and counted, not enforced.
    Verdict decide(Action action, Condition cond, std::string check, std::string reason,
                   bool shadow = false, std::string delay = "", std::string rbl = "") const {
        Verdict v;
        v.action = action;
        v.check = std::move(check);
        v.reason = std::move(reason);
        if (action == Action::reject || action == Action::defer || action == Action::greylist) {
            bool reject = action == Action::reject;
            const config::ReplyCfg* r = find_reply(cfg, *group, cond, reject);
            v.code = r ? r->code : reject ? 550 : action == Action::greylist ? 450 : 451;
            v.dsn = r ? r->dsn : reject ? "5.7.1" : "4.7.1";
            std::string text = r ? r->text
                               : reject ? "Message rejected: %REASON%"
                                        : "Please try again later: %REASON%";
            v.text = expand_reply(text, t, group->name, v.check, v.reason, delay, rbl);
        }
        if (shadow) {
            v.shadow = true;
            step(v.check, "shadow", "would have " + std::string(action_name(action)) + "ed: " +
                                        v.reason);
            if (!dry_run) {
                engine.count_shadow(group->name + "/" + v.check);
                log::write_qid(log::Level::info, t.queue_id, decision_line(t, group->name, v));
            }
            if (!shadowed) shadowed = v;
        }
        return v;
    }

    // <deny> rules in file order: a shadow one that matches is logged "would have rejected" and
    // passed over; the first enforcing one that matches refuses.
    std::optional<Verdict> deny(const std::vector<config::MatchCfg>& rules, const char* where,
                                config::Direction dir) const {
        for (const auto& rule : rules) {
            if (!rule_matches(cfg, rule, t, dir)) continue;
            const std::string line = std::to_string(rule.line);
            const std::string reason = std::string("denied by ") + where + " rule at line " + line;
            if (rule.mode == config::CheckMode::shadow) {
                decide(Action::reject, Condition::deny, "deny", reason, true);
                continue;
            }
            step("deny", "hit", std::string(where) + " <deny> at line " + line);
            return decide(Action::reject, Condition::deny, "deny", reason);
        }
        return std::nullopt;
    }

    // The verdict when no enforcing check refused: a shadow decision (not enforced) or none.
    Verdict pass(Verdict v) const {
        if (v.action != Action::none || !shadowed) return v;
        Verdict s = *shadowed;
        s.quarantine = v.quarantine;
        s.score = v.score;
        s.checks = v.checks;
        s.prepend = std::move(v.prepend);
        return s;
    }
};

Verdict Engine::run(const config::Config& cfg, const Transaction& t, bool dry_run,
                    Explanation& trace) const {
    Run r{*this, cfg, t, dry_run, dry_run ? &trace : nullptr, nullptr, std::nullopt};
    config::Direction dir = direction_of(cfg, t);
    r.group = &resolve_group(cfg, t, dir);
    trace.group = r.group->name;
    trace.direction = dir;
    // RCPT runs every check; END-OF-MESSAGE only <allow>/<deny> and the thresholds that count
    // recipients or size (threshold_amount); other stages nothing.
    const bool rcpt = t.stage == Stage::rcpt;
    if (!rcpt && t.stage != Stage::end_of_message) {
        r.step("stage", "skip", "the SMTP-level checks run at RCPT and END-OF-MESSAGE");
        return {};
    }
    // Global, then group, deny and allow.
    if (auto v = r.deny(cfg.deny, "global", dir)) return *v;
    r.step("deny", "pass", "no enforcing global <deny> matches");
    if (int i = first_match(cfg, cfg.allow, t, dir); i >= 0) {
        r.step("allow", "hit", "global <allow> at line " + std::to_string(cfg.allow[i].line));
        return r.decide(Action::accept, Condition::any, "allow",
                        "allowed by global rule at line " + std::to_string(cfg.allow[i].line));
    }
    const auto& g = *r.group;
    if (auto v = r.deny(g.deny, "group", dir)) return *v;
    if (int i = first_match(cfg, g.allow, t, dir); i >= 0) {
        r.step("allow", "hit", "group <allow> at line " + std::to_string(g.allow[i].line));
        return r.decide(Action::accept, Condition::any, "allow",
                        "allowed by group rule at line " + std::to_string(g.allow[i].line));
    }
    r.step("allow", "pass", "no <allow> or <deny> matches");

    // The mixed-policy split.
    if (auto first = rcpt ? state_.first_groups.get(message_id(t)) : std::nullopt;
        first && *first != g.name) {
        const config::GroupCfg* fg = nullptr;
        for (const auto& other : cfg.groups)
            if (other.name == *first) fg = &other;
        if (g.split_recipients || (fg && fg->split_recipients)) {
            r.step("split", "hit", "the first accepted recipient is in group " + *first);
            Verdict v = r.decide(Action::defer, Condition::any, "split",
                                 "group " + g.name + " after a recipient of group " + *first);
            v.code = 452;
            v.dsn = "4.5.3";
            v.text = "Try again in a separate transaction";
            return v;
        }
    }

    // The block list: clients caught by a spam trap (or added by the admin).
    if (t.client && rcpt) {
        if (auto hit = state_.blocks.find(*t.client, g.name)) {
            r.step("blocklist", "hit",
                   hit->reason + ", " + std::to_string(hit->left.count()) + "s left" +
                       (hit->scope.empty() ? " (global)" : " (group " + hit->scope + ")"));
            return r.decide(Action::reject,
                            hit->source == BlockSource::spamtrap ? Condition::spamtrap
                                                                 : Condition::deny,
                            "blocklist", "client blocked: " + hit->reason);
        }
        r.step("blocklist", "pass", "client not blocked");
    }

    // RBLs: the seam of policy/rbl (DNS lives there, not here).
    RblOutcome rbl;
    if (rcpt && !g.rbls.empty()) {
        if (!hooks_.rbl) {
            r.step("rbl", "skip", "RBL lookups are not available");
        } else {
            rbl = hooks_.rbl(cfg, g, t);
            for (auto& s : rbl.steps)
                r.step(std::move(s.check), std::move(s.result), std::move(s.detail));
            if (rbl.reject) {
                std::string names;  // %RBL%: the listing RBLs
                for (const auto& l : rbl.listings)
                    if (("," + names + ",").find("," + l.rbl + ",") == std::string::npos)
                        names += (names.empty() ? "" : ",") + l.rbl;
                Verdict v = r.decide(Action::reject, Condition::rbl, "rbl", rbl.reason, false, "",
                                     names);
                v.score = rbl.score;
                v.checks = rbl.checks;
                return v;
            }
        }
    }

    // Spam traps.
    TrapCheck trap = rcpt ? check_spamtraps(cfg, g, t) : TrapCheck{};
    if (!trap.exempted.empty()) r.step("spamtrap", "exempt", "exempt by " + trap.exempted);
    if (trap.hit && trap.hit->trap->mode == config::CheckMode::shadow) {
        r.decide(Action::reject, Condition::spamtrap, "spamtrap", "spam trap", true);
    } else if (trap.hit) {
        const auto& tc = *trap.hit->trap;
        if (!dry_run) spring_trap(state_.blocks, tc, g, t);
        r.step("spamtrap", "hit",
               "pattern " + tc.pattern->pattern() + " at line " + std::to_string(tc.line) +
                   "; blocks the client " + (tc.scope == config::TrapScope::global
                                                 ? std::string("in every group")
                                                 : "in group " + g.name) +
                   " for " + std::to_string(tc.block_for.count()) + "s");
        return r.decide(Action::reject, Condition::spamtrap, "spamtrap", "spam trap");
    }
    if (rcpt && !trap.hit && !g.spamtraps.empty() && trap.exempted.empty())
        r.step("spamtrap", "pass", "no trap");

    // Thresholds: the first refusing rule decides; warn and quarantine let the mail pass.
    bool quarantine = false;
    for (const auto& rule : g.thresholds) {
        std::string check = "threshold:" + rule.name;
        if (!direction_applies(rule.direction, dir)) {
            r.step(check, "skip", std::string("counts ") + direction_name(rule.direction) +
                                      " mail only");
            continue;
        }
        std::string which;
        if (exempt(cfg, rule.exempt, t, &which)) {
            r.step(check, "exempt", "exempt by " + which);
            continue;
        }
        const auto amount = threshold_amount(rule, t);
        if (!amount) {
            r.step(check, "skip", std::string("counts ") + unit_name(threshold_unit(rule)) +
                                      (rcpt ? " at END-OF-MESSAGE" : " at RCPT"));
            continue;
        }
        auto key = threshold_key(rule, t);
        if (!key) {
            r.step(check, "skip", "no key for this transaction");
            continue;
        }
        ThresholdDecision d =
            state_.thresholds.check(g.name, rule, *key, message_id(t), dry_run, *amount);
        std::string counts = *key + ": " + std::to_string(d.messages) + " " +
                             unit_name(threshold_unit(rule)) + ", " + std::to_string(d.spams) +
                             " spams in " + std::to_string(rule.period.count()) + "s";
        if (!d.over) {
            r.step(check, "pass", counts);
            continue;
        }
        r.step(check, "hit", counts + "; action " + threshold_action_name(rule.action) +
                                 (d.left.count() ? ", " + std::to_string(d.left.count()) +
                                                       "s left" : ""));
        std::string reason = "threshold " + rule.name + " exceeded by " + *key;
        bool shadow = rule.mode == config::CheckMode::shadow;
        if (shadow) {
            if (rule.action == config::ThresholdAction::block)
                r.decide(Action::reject, Condition::threshold, check, reason, true);
            else if (rule.action == config::ThresholdAction::defer)
                r.decide(Action::defer, Condition::threshold, check, reason, true);
            else
                r.step(check, "shadow", std::string("would have asked to ") +
                                            threshold_action_name(rule.action));
            continue;
        }
        if (d.crossing && !dry_run) {
            log::write_qid(log::Level::notice, t.queue_id,
                           log::cat("threshold ", rule.name, " of group ", g.name, " crossed by ",
                                    *key, " (", d.messages, " ", unit_name(threshold_unit(rule)),
                                    " in the window, ", d.spams,
                                    " spams): ", threshold_action_name(rule.action)));
            if (hooks_.alert)
                hooks_.alert(ThresholdAlert{g.name, rule.name, *key, rule.action, d.messages,
                                            unit_name(threshold_unit(rule)), d.spams,
                                            rule.alert_to.empty() ? cfg.alerts.to
                                                                  : rule.alert_to,
                                            rule.period, rule.block_for});
        }
        if (rule.action == config::ThresholdAction::block)
            return r.decide(Action::reject, Condition::threshold, check, reason);
        if (rule.action == config::ThresholdAction::defer)
            return r.decide(Action::defer, Condition::threshold, check, reason);
        if (rule.action == config::ThresholdAction::quarantine) quarantine = true;
    }

    // Greylisting: the seam of policy/greylist.
    Verdict pass;
    pass.quarantine = quarantine;
    pass.score = rbl.score;
    pass.checks = rbl.checks;
    if (quarantine) {
        pass.check = "threshold";
        pass.reason = "quarantine asked by a threshold";
    }
    if (g.greylist && rcpt) {
        std::string which;
        if (exempt(cfg, g.greylist->exempt, t, &which)) {
            r.step("greylist", "exempt", "exempt by " + which);
        } else if (!hooks_.greylist) {
            r.step("greylist", "skip", "greylisting is not available");
        } else {
            Verdict gv = hooks_.greylist(t, *g.greylist, dry_run);
            const bool deferred = gv.action == Action::greylist || gv.action == Action::defer;
            if (deferred && g.greylist->mode == config::CheckMode::shadow) {
                r.decide(gv.action, Condition::greylist, "greylist",
                         gv.reason.empty() ? gv.text : gv.reason, true);
            } else if (deferred) {
                r.step("greylist", "hit", gv.reason.empty() ? gv.text : gv.reason);
                Verdict v = r.decide(gv.action, Condition::greylist, "greylist",
                                     gv.reason.empty() ? gv.text : gv.reason);
                if (!find_reply(cfg, g, Condition::greylist, false) && !gv.text.empty()) {
                    v.code = gv.code ? gv.code : v.code;
                    v.dsn = gv.dsn.empty() ? v.dsn : gv.dsn;
                    v.text = gv.text;
                }
                v.prepend = std::move(gv.prepend);
                v.quarantine = quarantine;
                v.score = rbl.score;
                v.checks = rbl.checks;
                return v;
            }
            if (!deferred) {
                r.step("greylist", "pass", gv.reason);
                pass.prepend = std::move(gv.prepend);
            }
        }
    }
    return r.pass(std::move(pass));
}

Verdict Engine::evaluate(const Transaction& t) {
    auto cfg = config();
    Explanation where;  // group and direction only: no trace when enforcing
    Verdict v = run(*cfg, t, false, where);
    bool refused = !v.shadow && (v.action == Action::reject || v.action == Action::defer ||
                                 v.action == Action::greylist);
    if (!refused && t.stage == Stage::rcpt) {
        for (const auto& g : cfg->groups)
            if (g.split_recipients) {
                state_.first_groups.accept(message_id(t), where.group);
                break;
            }
    }
    if ((v.action != Action::none && !v.shadow) || v.quarantine || !v.checks.empty()) {
        if ((v.action != Action::none && !v.shadow) || v.quarantine)
            metrics::get(std::string("policy-") + std::string(action_name(v.action))).inc();
        std::string line = decision_line(t, where.group, v);
        if (!v.checks.empty()) line += " checks=" + v.checks;
        log::write_qid(log::Level::info, t.queue_id, line);
    } else if (log::enabled(log::Level::debug)) {
        log::write_qid(log::Level::debug, t.queue_id, decision_line(t, where.group, v));
    }
    return v;
}

Explanation Engine::explain(const Transaction& t) const {
    auto cfg = config();
    Explanation e;
    e.verdict = run(*cfg, t, true, e);
    return e;
}

void Engine::record_spam(const Transaction& t) {
    auto cfg = config();
    config::Direction dir = direction_of(*cfg, t);
    const auto& g = resolve_group(*cfg, t, dir);
    for (const auto& rule : g.thresholds) {
        if (rule.spams == 0 || !direction_applies(rule.direction, dir)) continue;
        if (exempt(*cfg, rule.exempt, t)) continue;
        if (auto key = threshold_key(rule, t))
            state_.thresholds.record_spam(g.name, rule, *key, message_id(t));
    }
}

}  // namespace mpp::policy
