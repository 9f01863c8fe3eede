// policy/spamtrap.cc: spam trap matching and springing (see spamtrap.h).
#include "policy/spamtrap.h"

#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/lists.h"

namespace mpp::policy {

TrapCheck check_spamtraps(const config::Config& cfg, const config::GroupCfg& group,
                          const Transaction& t) {
    TrapCheck out;
    if (group.spamtraps.empty() || t.recipient.empty()) return out;
    auto a = parse_address(t.recipient);
    std::string subject = a ? a->str() : t.recipient;
    MatchLimits limits = match_limits(cfg);
    for (std::size_t i = 0; i < group.spamtraps.size(); ++i) {
        const auto& trap = group.spamtraps[i];
        if (!trap.pattern) continue;
        MatchResult r = trap.pattern->match(subject, limits);
        if (r == MatchResult::limit) {
            metrics::get("regex-limit-hits").inc();
            log::warning(log::cat("group ", group.name, ": spamtrap pattern \"",
                                  trap.pattern->pattern(),
                                  "\" hit the regex match limits; counted as no match"));
        }
        if (r != MatchResult::match) continue;
        std::string which;
        if (exempt(cfg, trap.exempt, t, &which)) {
            if (out.exempted.empty()) out.exempted = which;
            continue;
        }
        out.hit = TrapHit{i, &trap};
        return out;
    }
    return out;
}

std::string trap_scope(const config::SpamtrapCfg& trap, const config::GroupCfg& group) {
    return trap.scope == config::TrapScope::global ? std::string() : group.name;
}

void spring_trap(Blocklist& blocks, const config::SpamtrapCfg& trap,
                 const config::GroupCfg& group, const Transaction& t) {
    if (!t.client) return;
    auto a = parse_address(t.recipient);
    blocks.add(*t.client, trap_scope(trap, group), trap.block_for, BlockSource::spamtrap,
               "spam trap " + (a ? a->str() : t.recipient));
}

}  // namespace mpp::policy
