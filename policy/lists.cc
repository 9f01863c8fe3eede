// policy/lists.cc: list and matcher evaluation (see lists.h).
#include "policy/lists.h"

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::policy {

namespace {

bool regex_matches(const Regex& re, std::string_view subject, const MatchLimits& limits,
                   std::string_view list) {
    switch (re.match(subject, limits)) {
        case MatchResult::match: return true;
        case MatchResult::no_match: return false;
        case MatchResult::limit:
            metrics::get("regex-limit-hits").inc();
            log::warning(log::cat("list ", list, ": pattern \"", re.pattern(),
                                  "\" hit the regex match limits; counted as no match"));
            return false;
        case MatchResult::error: break;
    }
    log::warning(log::cat("list ", list, ": pattern \"", re.pattern(), "\" failed to match"));
    return false;
}

const config::ListCfg* list_at(const config::Config& cfg, const config::Ref& ref) {
    return ref.index < cfg.lists.size() ? &cfg.lists[ref.index] : nullptr;
}

}  // namespace

MatchLimits match_limits(const config::Config& cfg) {
    MatchLimits l;
    if (cfg.limits.regex_match_limit > 0)
        l.match_limit = static_cast<std::uint32_t>(cfg.limits.regex_match_limit);
    if (cfg.limits.regex_depth_limit > 0)
        l.depth_limit = static_cast<std::uint32_t>(cfg.limits.regex_depth_limit);
    if (cfg.limits.regex_heap_limit > 0)
        l.heap_limit_kib = static_cast<std::uint32_t>(cfg.limits.regex_heap_limit / 1024);
    return l;
}

std::optional<Address> parse_address(std::string_view text) { return Address::parse(text); }

bool list_matches_client(const config::ListCfg& list, const std::optional<IpAddr>& client) {
    return list.type == config::ListType::cidr && client && list.nets.contains(*client);
}

bool list_matches_domain(const config::ListCfg& list, std::string_view domain,
                         const MatchLimits&) {
    if (domain.empty()) return false;
    if (domain.back() == '.') domain.remove_suffix(1);
    switch (list.type) {
        case config::ListType::domain:
            for (const auto& d : list.domains)
                if (glob_match(d, domain)) return true;
            return false;
        case config::ListType::address:
            for (const auto& p : list.addresses)
                if (p.matches_domain(domain)) return true;
            return false;
        default: return false;
    }
}

bool list_matches_address(const config::ListCfg& list, const std::optional<Address>& a,
                          const MatchLimits& limits) {
    if (!a) return false;
    switch (list.type) {
        case config::ListType::address:
            for (const auto& p : list.addresses)
                if (p.matches(*a)) return true;
            return false;
        case config::ListType::domain: return list_matches_domain(list, a->domain, limits);
        case config::ListType::regex: {
            std::string text = a->str();
            for (const auto& re : list.regexes)
                if (re && regex_matches(*re, text, limits, list.name)) return true;
            return false;
        }
        case config::ListType::cidr: return false;
    }
    return false;
}

bool address_matches(const config::Config& cfg, const config::AddressMatch& m,
                     const std::optional<Address>& a) {
    if (!a) return false;
    for (const auto& p : m.patterns)
        if (p.matches(*a)) return true;
    MatchLimits limits = match_limits(cfg);
    for (const auto& ref : m.lists)
        if (const auto* l = list_at(cfg, ref); l && list_matches_address(*l, a, limits))
            return true;
    return false;
}

bool domain_matches(const config::Config& cfg, const config::AddressMatch& m,
                    const std::optional<Address>& a) {
    if (!a || a->domain.empty()) return false;
    for (const auto& p : m.patterns)
        if (p.matches_domain(a->domain)) return true;
    MatchLimits limits = match_limits(cfg);
    for (const auto& ref : m.lists)
        if (const auto* l = list_at(cfg, ref); l && list_matches_domain(*l, a->domain, limits))
            return true;
    return false;
}

bool net_matches(const config::Config& cfg, const config::NetMatch& m,
                 const std::optional<IpAddr>& client) {
    if (!client) return false;
    if (m.nets.contains(*client)) return true;
    for (const auto& ref : m.lists)
        if (const auto* l = list_at(cfg, ref); l && list_matches_client(*l, client)) return true;
    return false;
}

bool exempt(const config::Config& cfg, const std::vector<config::Ref>& lists,
            const Transaction& t, std::string* which) {
    if (lists.empty()) return false;
    MatchLimits limits = match_limits(cfg);
    std::optional<Address> sender = parse_address(t.sender);
    std::optional<Address> rcpt;
    if (!t.recipient.empty()) rcpt = parse_address(t.recipient);
    for (const auto& ref : lists) {
        const auto* l = list_at(cfg, ref);
        if (!l) continue;
        const char* what = nullptr;
        if (l->type == config::ListType::cidr) {
            if (list_matches_client(*l, t.client)) what = "client";
        } else if (list_matches_address(*l, sender, limits)) {
            what = "sender";
        } else if (list_matches_address(*l, rcpt, limits)) {
            what = "recipient";
        }
        if (what) {
            if (which) *which = l->name + "(" + what + ")";
            return true;
        }
    }
    return false;
}

}  // namespace mpp::policy
