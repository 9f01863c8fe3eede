// policy/rbl.cc: RBL query names, answer matching and group scoring (see rbl.h).
#include "policy/rbl.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/lists.h"

namespace mpp::policy {
namespace {

constexpr std::size_t kMaxRefusalZones = 1000;
constexpr auto kRefusalLogEvery = std::chrono::hours(1);

metrics::Metric& m_errors() { return metrics::get("rbl-errors"); }
metrics::Metric& m_listed() { return metrics::get("rbl-listings"); }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string format_score(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
}

std::chrono::milliseconds timeout_of(const config::Config& cfg, const config::RblCfg& r) {
    auto d = r.timeout.count() > 0 ? r.timeout : cfg.dns.timeout;
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

}  // namespace

std::string rbl_client_name(const IpAddr& client, std::string_view zone) {
    std::string out;
    static const char* const kHex = "0123456789abcdef";
    if (client.is_v4()) {
        for (int i = 15; i >= 12; --i) out += std::to_string(client.bytes[i]) + ".";
    } else {
        for (int i = 15; i >= 0; --i) {
            out += kHex[client.bytes[i] & 0xf];
            out += '.';
            out += kHex[client.bytes[i] >> 4];
            out += '.';
        }
    }
    out += lower(zone);
    return out;
}

std::optional<std::string> rbl_domain_name(std::string_view domain, std::string_view zone) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty() || domain.front() == '[' || domain.find('.') == std::string_view::npos ||
        IpAddr::parse(domain))
        return std::nullopt;
    std::string name = lower(domain) + "." + lower(zone);
    std::string probe;
    if (!dns::build_query(name, dns::Type::a, 0, probe)) return std::nullopt;
    return name;
}

std::optional<std::string> rbl_query_name(const config::RblCfg& rbl, const Transaction& t) {
    switch (rbl.lookup) {
        case config::RblLookup::client:
            if (!t.client) return std::nullopt;
            return rbl_client_name(*t.client, rbl.zone);
        case config::RblLookup::helo: return rbl_domain_name(t.helo, rbl.zone);
        case config::RblLookup::sender_domain: {
            auto at = t.sender.rfind('@');
            if (at == std::string::npos) return std::nullopt;
            return rbl_domain_name(std::string_view(t.sender).substr(at + 1), rbl.zone);
        }
    }
    return std::nullopt;
}

RblMatch rbl_match(const config::Config& cfg, const config::RblCfg& rbl,
                   const std::vector<std::string>& a_records, std::string* code) {
    static const Cidr kRefused = *Cidr::parse("127.255.255.0/24");
    RblMatch result = RblMatch::none;
    for (const auto& rec : a_records) {
        auto ip = IpAddr::parse(rec);
        if (!ip || !ip->is_v4()) continue;
        if (kRefused.contains(*ip)) {
            if (result == RblMatch::none) {
                result = RblMatch::refused;
                if (code) *code = rec;
            }
            continue;
        }
        if (net_matches(cfg, rbl.answers, ip)) {
            if (code) *code = rec;
            return RblMatch::listed;
        }
    }
    return result;
}

void RblChecker::refused(const std::string& zone, const std::string& code) {
    const auto now = clock_.steady();
    {
        std::lock_guard lock(mutex_);
        auto it = refusal_logged_.find(zone);
        if (it != refusal_logged_.end() && now - it->second < kRefusalLogEvery) return;
        if (it == refusal_logged_.end() && refusal_logged_.size() >= kMaxRefusalZones) return;
        refusal_logged_[zone] = now;
    }
    log::warning(log::cat("rbl: ", zone, " refused the query (answer ", code,
                          "): it is not counted as a listing; such lists refuse queries from "
                          "public or high-volume resolvers, use a resolver of your own"));
}

RblOutcome RblChecker::check(const config::Config& cfg, const config::GroupCfg& g,
                             const Transaction& t) {
    RblOutcome out;
    // The distinct RBLs to ask: index into cfg.rbls -> question index.
    std::vector<dns::Question> questions;
    std::map<std::size_t, std::size_t> asked;
    std::vector<bool> line_exempt(g.rbls.size(), false);
    std::chrono::milliseconds wait{0};
    for (std::size_t l = 0; l < g.rbls.size(); ++l) {
        const auto& use = g.rbls[l];
        std::string which;
        if (exempt(cfg, use.exempt, t, &which)) {
            line_exempt[l] = true;
            out.steps.push_back({"rbl", "exempt", "<rbl use> at line " +
                                                      std::to_string(use.line) + ": exempt by " +
                                                      which});
            continue;
        }
        for (const auto& ref : use.use) {
            if (ref.index >= cfg.rbls.size() || asked.count(ref.index)) continue;
            const auto& rbl = cfg.rbls[ref.index];
            auto name = rbl_query_name(rbl, t);
            if (!name) {
                out.steps.push_back({"rbl:" + rbl.name, "skip", "nothing to look up"});
                continue;
            }
            asked[ref.index] = questions.size();
            questions.push_back({*name, dns::Type::a, timeout_of(cfg, rbl)});
            wait = std::max(wait, timeout_of(cfg, rbl));
        }
    }
    if (questions.empty()) return out;
    std::vector<dns::Answer> answers = lookup_(questions, wait);

    // Per RBL: listed (with its code) or not.
    std::map<std::size_t, std::string> listed;
    for (const auto& [index, q] : asked) {
        const auto& rbl = cfg.rbls[index];
        const std::string check = "rbl:" + rbl.name;
        const dns::Answer a = q < answers.size() ? answers[q] : dns::Answer{};
        if (a.status == dns::Status::nxdomain || a.status == dns::Status::nodata) {
            out.steps.push_back({check, "pass", questions[q].name + " not listed"});
            continue;
        }
        if (a.status != dns::Status::ok) {
            m_errors().inc();
            log::write_qid(log::Level::debug, t.queue_id,
                           log::cat("rbl: ", questions[q].name, ": ", dns::status_name(a.status),
                                    "; not counted"));
            out.steps.push_back({check, "error", questions[q].name + ": " +
                                                     dns::status_name(a.status)});
            continue;
        }
        std::string code;
        switch (rbl_match(cfg, rbl, a.records, &code)) {
            case RblMatch::listed:
                listed[index] = code;
                out.listings.push_back({rbl.name, rbl.zone, code, rbl.score});
                out.score += rbl.score;
                if (!out.checks.empty()) out.checks += ' ';
                out.checks += check + "(" + format_score(rbl.score) + ")";
                m_listed().inc();
                out.steps.push_back({check, "hit", questions[q].name + " listed (" + code +
                                                       "), score " + format_score(rbl.score)});
                break;
            case RblMatch::refused:
                refused(rbl.zone, code);
                out.steps.push_back({check, "error", "query refused by the list (" + code + ")"});
                break;
            case RblMatch::none:
                out.steps.push_back({check, "pass", questions[q].name + " answers " +
                                                        a.records.front() + ", not in answers"});
                break;
        }
    }

    // Per <rbl use> line: the sum against its reject-at.
    for (std::size_t l = 0; l < g.rbls.size() && !out.reject; ++l) {
        const auto& use = g.rbls[l];
        if (line_exempt[l] || !use.reject_at) continue;
        double sum = 0;
        std::optional<std::size_t> first;
        for (const auto& ref : use.use)
            if (listed.count(ref.index)) {
                sum += cfg.rbls[ref.index].score;
                if (!first) first = ref.index;
            }
        if (!first || sum < *use.reject_at) continue;
        const auto& rbl = cfg.rbls[*first];
        out.reject = true;
        out.reason = "listed by " + rbl.zone + " (" + listed[*first] + ")";
        auto txt = lookup_({{questions[asked[*first]].name, dns::Type::txt, timeout_of(cfg, rbl)}},
                           timeout_of(cfg, rbl));
        if (!txt.empty() && txt[0].status == dns::Status::ok && !txt[0].records.front().empty())
            out.reason = txt[0].records.front();
        out.steps.push_back({"rbl", "hit", "score " + format_score(sum) + " reaches reject-at " +
                                               format_score(*use.reject_at) + " (line " +
                                               std::to_string(use.line) + ")"});
    }
    return out;
}

}  // namespace mpp::policy
