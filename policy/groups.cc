// policy/groups.cc: direction and group resolution (see groups.h).
#include "policy/groups.h"

#include "policy/lists.h"

namespace mpp::policy {

config::Direction direction_of(const config::Config& cfg, const Transaction& t) {
    if (net_matches(cfg, cfg.networks.internal, t.client)) return config::Direction::outbound;
    if (cfg.networks.authenticated_outbound && !t.sasl_username.empty())
        return config::Direction::outbound;
    return config::Direction::inbound;
}

bool rule_matches(const config::Config& cfg, const config::MatchCfg& m, const Transaction& t,
                  config::Direction direction) {
    if (m.direction != config::Direction::any && m.direction != direction) return false;
    if (m.sasl == config::Tristate::yes && t.sasl_username.empty()) return false;
    if (m.sasl == config::Tristate::no && !t.sasl_username.empty()) return false;
    if (!m.client.empty() && !net_matches(cfg, m.client, t.client)) return false;
    bool need_sender = !m.sender.empty() || !m.sender_domain.empty();
    bool need_rcpt = !m.recipient.empty() || !m.recipient_domain.empty();
    if (need_sender) {
        auto s = parse_address(t.sender);
        if (!m.sender.empty() && !address_matches(cfg, m.sender, s)) return false;
        if (!m.sender_domain.empty() && !domain_matches(cfg, m.sender_domain, s)) return false;
    }
    if (need_rcpt) {
        std::optional<Address> r;
        if (!t.recipient.empty()) r = parse_address(t.recipient);
        if (!m.recipient.empty() && !address_matches(cfg, m.recipient, r)) return false;
        if (!m.recipient_domain.empty() && !domain_matches(cfg, m.recipient_domain, r))
            return false;
    }
    return true;
}

int first_match(const config::Config& cfg, const std::vector<config::MatchCfg>& rules,
                const Transaction& t, config::Direction direction) {
    for (std::size_t i = 0; i < rules.size(); ++i)
        if (rule_matches(cfg, rules[i], t, direction)) return static_cast<int>(i);
    return -1;
}

const config::GroupCfg& resolve_group(const config::Config& cfg, const Transaction& t,
                                      config::Direction direction) {
    for (const auto& g : cfg.groups) {
        if (g.name == "default") continue;
        if (first_match(cfg, g.matches, t, direction) >= 0) return g;
    }
    return cfg.default_group();
}

const char* direction_name(config::Direction d) {
    switch (d) {
        case config::Direction::inbound: return "inbound";
        case config::Direction::outbound: return "outbound";
        case config::Direction::any: break;
    }
    return "any";
}

}  // namespace mpp::policy
