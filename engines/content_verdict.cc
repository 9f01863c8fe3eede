// engines/content_verdict.cc: a group's content verdict (see content_verdict.h).
#include "engines/content_verdict.h"

#include <algorithm>

#include "lib/log.h"

namespace mpp::engines {
namespace {

using Action = GroupVerdict::Action;
using Status = EngineResult::Status;

template <typename T>
const T* find_named(const std::vector<T>& v, const std::string& name) {
    for (const auto& e : v)
        if (e.name == name) return &e;
    return nullptr;
}

const config::EngineCfg* engine_cfg(const config::Config& cfg, const std::string& name) {
    if (auto* s = find_named(cfg.spamd, name)) return s;
    if (auto* c = find_named(cfg.clamd, name)) return c;
    if (auto* c = find_named(cfg.commands, name)) return c;
    return nullptr;
}

Action from(config::VirusAction a) {
    switch (a) {
        case config::VirusAction::reject: return Action::reject;
        case config::VirusAction::quarantine: return Action::quarantine;
        case config::VirusAction::discard: return Action::discard;
    }
    return Action::reject;
}

std::optional<Action> from(config::HeaderAction a) {
    switch (a) {
        case config::HeaderAction::reject: return Action::reject;
        case config::HeaderAction::defer: return Action::defer;
        case config::HeaderAction::discard: return Action::discard;
        case config::HeaderAction::quarantine: return Action::quarantine;
        default: return std::nullopt;
    }
}

config::EngineError on_error(const config::GroupCfg& g, const config::EngineCfg* e) {
    switch (g.scan ? g.scan->on_error : config::ScanError::engine) {
        case config::ScanError::accept: return config::EngineError::accept;
        case config::ScanError::tag: return config::EngineError::tag;
        case config::ScanError::defer: return config::EngineError::defer;
        case config::ScanError::engine: break;
    }
    return e ? e->on_error : config::EngineError::defer;
}

void decide(GroupVerdict& v, Action a, config::Condition c, std::string reason) {
    v.action = a;
    v.condition = c;
    v.reason = std::move(reason);
}

}  // namespace

const char* action_name(GroupVerdict::Action a) {
    switch (a) {
        case Action::accept: return "accept";
        case Action::tag: return "tag";
        case Action::quarantine: return "quarantine";
        case Action::discard: return "discard";
        case Action::defer: return "defer";
        case Action::reject: return "reject";
    }
    return "?";
}

std::vector<std::string> scan_engines(const config::GroupCfg& g) {
    std::vector<std::string> out;
    if (!g.scan || !g.scan->enabled) return out;
    for (const auto& r : g.scan->engines) out.push_back(r.name);
    return out;
}

std::string result_text(const EngineResult& r) {
    std::string what;
    switch (r.status) {
        case Status::clean: what = "clean"; break;
        case Status::spam: what = "spam"; break;
        case Status::virus: what = "virus " + r.detail; break;
        case Status::limits: what = "limits " + r.detail; break;
        case Status::error: what = "error: " + r.detail; break;
        case Status::skipped: what = "skipped: " + r.detail; break;
    }
    if (r.required > 0 || r.score != 0)
        what = log::cat(r.score, "/", r.required, r.status == Status::spam ? " spam" : "");
    return log::cat(r.engine, "(", what, ")");
}

GroupVerdict decide_group(const config::Config& cfg, const config::GroupCfg& g,
                          HeaderFilterResult filters, const std::vector<EngineResult>& results,
                          double rbl_score, const std::string& rbl_checks) {
    GroupVerdict v;
    v.filters = std::move(filters);
    if (g.score && g.score->enabled) v.score_cfg = &*g.score;
    const std::vector<std::string> names = scan_engines(g);
    std::vector<const EngineResult*> mine;
    for (const auto& r : results)
        if (std::find(names.begin(), names.end(), r.engine) != names.end()) mine.push_back(&r);

    auto add_check = [&](const std::string& c) {
        if (c.empty()) return;
        if (!v.checks.empty()) v.checks += ' ';
        v.checks += c;
    };
    for (const auto* r : mine) add_check(result_text(*r));
    add_check(rbl_checks);
    add_check(checks_text(v.filters));

    // 5 (computed first: the log and headers show it whatever decides).
    double sum = v.filters.score + rbl_score;
    bool scored = !v.filters.scores.empty() || rbl_score != 0;
    const EngineResult* spam = nullptr;
    for (const auto* r : mine) {
        if (r->status != Status::spam && r->status != Status::clean) continue;
        const auto* s = find_named(cfg.spamd, r->engine);
        if (!s) continue;
        sum += r->score * s->weight;
        scored = true;
        if (r->status == Status::spam && !spam) spam = r;
    }
    if (scored) v.score = sum;

    // 1. virus
    if (g.scan)
        for (const auto* r : mine)
            if (r->status == Status::virus) {
                decide(v, from(g.scan->on_virus), config::Condition::virus,
                       log::cat("virus ", r->detail, " (", r->engine, ")"));
                return v;
            }
    // 2. clamd limits
    for (const auto* r : mine) {
        if (r->status != Status::limits) continue;
        const auto* c = find_named(cfg.clamd, r->engine);
        const auto a = c ? c->on_limits : config::LimitAction::reject;
        if (a == config::LimitAction::accept) continue;
        decide(v, a == config::LimitAction::reject ? Action::reject : Action::quarantine,
               config::Condition::limits,
               log::cat("scan limits exceeded: ", r->detail, " (", r->engine, ")"));
        return v;
    }
    // 3. header filter decisions
    if (v.filters.action)
        if (auto a = from(*v.filters.action)) {
            decide(v, *a, config::Condition::header_filter, reason(v.filters));
            return v;
        }
    // 4. engine errors
    for (const auto* r : mine) {
        if (r->status != Status::error) continue;
        switch (on_error(g, engine_cfg(cfg, r->engine))) {
            case config::EngineError::defer:
                decide(v, Action::defer, config::Condition::error,
                       log::cat(r->engine, " failed: ", r->detail));
                return v;
            case config::EngineError::tag: v.unchecked.push_back(r->engine); break;
            case config::EngineError::accept: break;
        }
    }
    // 5. score levels
    if (v.score_cfg && v.score) {
        const auto& s = *v.score_cfg;
        const std::string why = log::cat("score ", *v.score);
        if (s.reject_at && *v.score >= *s.reject_at) {
            decide(v, Action::reject, config::Condition::score,
                   log::cat(why, " >= reject-at ", *s.reject_at));
            return v;
        }
        if (s.quarantine_at && *v.score >= *s.quarantine_at) {
            decide(v, Action::quarantine, config::Condition::score,
                   log::cat(why, " >= quarantine-at ", *s.quarantine_at));
            return v;
        }
        if (s.tag_at && *v.score >= *s.tag_at) {
            decide(v, Action::tag, config::Condition::score,
                   log::cat(why, " >= tag-at ", *s.tag_at));
            return v;
        }
    } else if (spam) {
        decide(v, Action::tag, config::Condition::score,
               log::cat(spam->engine, " score ", spam->score, " >= ", spam->required));
        return v;
    }
    // 6. header filter tag
    if (v.filters.action == config::HeaderAction::tag) {
        decide(v, Action::tag, config::Condition::header_filter, reason(v.filters));
        return v;
    }
    if (!v.unchecked.empty()) v.action = Action::tag;  // accepted, marked unchecked
    return v;
}

}  // namespace mpp::engines
