// milter/content_decision.cc: the end-of-message content decision (see content_decision.h).
#include "milter/content_decision.h"

#include <algorithm>

#include "lib/log.h"
#include "policy/groups.h"

namespace mpp::milter {

using Action = engines::GroupVerdict::Action;

int refusal_rank(const engines::GroupVerdict& v) {
    switch (v.action) {
        case Action::reject: return 4;
        case Action::defer: return 3;
        case Action::discard: return 2;
        case Action::quarantine: return 1;
        default: return 0;
    }
}

std::vector<std::string> ContentDecision::headers() const {
    std::vector<std::string> out;
    std::string status;
    for (const auto& t : tags) {
        if (!status.empty()) status += "; ";
        status += "tagged (" + t + ")";
    }
    for (const auto& e : unchecked) {
        if (!status.empty()) status += "; ";
        status += "unchecked (" + e + ")";
    }
    if (!status.empty()) out.push_back("X-MPP-Status: " + status);
    if (score) out.push_back("X-MPP-Score: " + log::cat(*score));
    if (!flag_header.empty()) out.push_back(flag_header + ": YES");
    return out;
}

std::string ContentDecision::group_names() const {
    std::string out;
    for (const auto& g : groups) {
        if (!out.empty()) out += ',';
        out += g.group ? g.group->name : "?";
    }
    return out;
}

std::string ContentDecision::checks() const {
    std::string out;
    for (const auto& g : groups) {
        if (g.verdict.checks.empty()) continue;
        if (!out.empty()) out += ',';
        out += g.verdict.checks;
    }
    std::replace(out.begin(), out.end(), ' ', ',');
    return out;
}

ContentDecision decide_content(const config::Config& cfg,
                               const std::vector<RecipientInput>& recipients,
                               const std::vector<engines::Header>& headers,
                               const std::vector<engines::EngineResult>& results,
                               const std::function<bool(const config::GroupCfg&)>& can_quarantine,
                               std::string_view queue_id) {
    ContentDecision d;
    const engines::HeaderFilterLimits limits = engines::header_filter_limits(cfg);
    std::vector<std::pair<double, std::string>> rbl;  // per group: highest RBL score
    for (const auto& r : recipients) {
        const auto& t = r.transaction;
        const config::GroupCfg& g = policy::resolve_group(cfg, t, policy::direction_of(cfg, t));
        std::size_t i = 0;
        while (i < d.groups.size() && d.groups[i].group != &g) ++i;
        if (i == d.groups.size()) {
            d.groups.push_back({&g, {}});
            rbl.emplace_back(r.rbl_score, r.rbl_checks);
        } else if (r.rbl_score > rbl[i].first) {
            rbl[i] = {r.rbl_score, r.rbl_checks};
        }
        d.group_of.push_back(i);
    }
    for (std::size_t i = 0; i < d.groups.size(); ++i) {
        const config::GroupCfg& g = *d.groups[i].group;
        d.groups[i].verdict =
            engines::decide_group(cfg, g, engines::evaluate(g, headers, limits, queue_id),
                                  results, rbl[i].first, rbl[i].second);
        auto& v = d.groups[i].verdict;
        if (v.action == Action::quarantine && !can_quarantine(g)) {
            v.action = Action::reject;
            v.reason += " (quarantine not available: rejected)";
        }
    }
    if (recipients.empty()) return d;

    int least = 4, most = 0;
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        const int rank = refusal_rank(d.groups[d.group_of[r]].verdict);
        least = std::min(least, rank);
        if (rank > most) {
            most = rank;
            d.decider = d.group_of[r];
            d.decider_recipient = r;
        }
    }
    if (least > 0) {  // nobody gets normal delivery
        if (most >= 3) {
            d.kind = most == 4 ? ContentDecision::Kind::reject : ContentDecision::Kind::defer;
            return d;
        }
        for (std::size_t r = 0; r < recipients.size(); ++r)
            if (refusal_rank(d.groups[d.group_of[r]].verdict) == 1) d.quarantined.push_back(r);
        d.kind = d.quarantined.empty() ? ContentDecision::Kind::discard
                                       : ContentDecision::Kind::quarantine;
        if (!d.quarantined.empty()) {
            d.decider_recipient = d.quarantined.front();
            d.decider = d.group_of[d.decider_recipient];
        }
        return d;
    }
    std::vector<bool> accepting(d.groups.size(), false);
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        const int rank = refusal_rank(d.groups[d.group_of[r]].verdict);
        if (rank > 0) {
            d.removed.push_back(r);
            if (rank == 1) d.quarantined.push_back(r);
        } else {
            accepting[d.group_of[r]] = true;
        }
    }
    for (std::size_t i = 0; i < d.groups.size(); ++i) {
        if (!accepting[i]) continue;
        const auto& v = d.groups[i].verdict;
        if (v.action == Action::tag && !v.reason.empty()) {
            d.tags.push_back(v.reason);
            if (v.condition == config::Condition::score && d.flag_header.empty()) {
                d.flag_header = v.score_cfg ? v.score_cfg->tag_header : "X-Spam-Flag";
                if (v.score_cfg) d.subject_prefix = v.score_cfg->subject_prefix;
            }
        }
        for (const auto& e : v.unchecked)
            if (std::find(d.unchecked.begin(), d.unchecked.end(), e) == d.unchecked.end())
                d.unchecked.push_back(e);
        if (v.score && (!d.score || *v.score > *d.score)) d.score = v.score;
    }
    return d;
}

}  // namespace mpp::milter
