// milter/content_decision.cc: the header filters' end-of-message decision (see
// content_decision.h).
#include "milter/content_decision.h"

#include "lib/log.h"
#include "policy/groups.h"

namespace mpp::milter {

int refusal_rank(const engines::HeaderFilterResult& r) {
    if (!r.action) return 0;
    switch (*r.action) {
        case config::HeaderAction::reject: return 3;
        case config::HeaderAction::defer: return 2;
        case config::HeaderAction::discard: return 1;
        default: return 0;
    }
}

std::vector<std::string> ContentDecision::headers() const {
    std::vector<std::string> out;
    std::string status;
    if (quarantine) status = "quarantine requested";
    for (const auto& t : tags) {
        if (!status.empty()) status += "; ";
        status += "tagged (" + t + ")";
    }
    if (!status.empty()) out.push_back("X-MPP-Status: " + status);
    if (score) out.push_back("X-MPP-Score: " + log::cat(*score));
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

ContentDecision decide_content(const config::Config& cfg,
                               const std::vector<policy::Transaction>& recipients,
                               const std::vector<engines::Header>& headers,
                               std::string_view queue_id) {
    ContentDecision d;
    const engines::HeaderFilterLimits limits = engines::header_filter_limits(cfg);
    for (const auto& t : recipients) {
        const config::GroupCfg& g =
            policy::resolve_group(cfg, t, policy::direction_of(cfg, t));
        std::size_t i = 0;
        while (i < d.groups.size() && d.groups[i].group != &g) ++i;
        if (i == d.groups.size())
            d.groups.push_back({&g, engines::evaluate(g, headers, limits, queue_id)});
        d.group_of.push_back(i);
    }
    if (recipients.empty()) return d;

    int least = 3, most = 0;
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        const int rank = refusal_rank(d.groups[d.group_of[r]].result);
        least = std::min(least, rank);
        if (rank > most) {
            most = rank;
            d.decider = d.group_of[r];
            d.decider_recipient = r;
        }
    }
    if (least > 0) {  // every recipient's group refuses: the strictest refusal for all
        d.kind = most == 3   ? ContentDecision::Kind::reject
                 : most == 2 ? ContentDecision::Kind::defer
                             : ContentDecision::Kind::discard;
        return d;
    }
    std::vector<bool> accepting(d.groups.size(), false);
    for (std::size_t r = 0; r < recipients.size(); ++r) {
        if (refusal_rank(d.groups[d.group_of[r]].result) > 0)
            d.removed.push_back(r);
        else
            accepting[d.group_of[r]] = true;
    }
    for (std::size_t i = 0; i < d.groups.size(); ++i) {
        if (!accepting[i]) continue;
        const auto& res = d.groups[i].result;
        if (res.action == config::HeaderAction::tag) d.tags.push_back(engines::reason(res));
        if (res.action == config::HeaderAction::quarantine) d.quarantine = true;
        if (!res.scores.empty() && (!d.score || res.score > *d.score)) d.score = res.score;
    }
    return d;
}

}  // namespace mpp::milter
