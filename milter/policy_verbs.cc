// milter/policy_verbs.cc: greylist, blacklist, thresholds, shadow and explain on the control
// socket (see policy_verbs.h). Runs on the main event loop; reads and edits the thread-safe
// tables of policy::Checks; every listing is bounded.
#include "milter/policy_verbs.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include "lib/cidr.h"
#include "lib/units.h"
#include "policy/groups.h"

namespace mpp::milter {
namespace {

using control::Request;
using control::Response;

constexpr const char* kGreylistUsage =
    "greylist list [LIMIT] | show KEY | delete KEY | flush | key CLIENT SENDER RECIPIENT";
constexpr const char* kBlacklistUsage =
    "blacklist list [LIMIT] | add IP [DURATION] [GROUP] | delete IP [GROUP]";
constexpr const char* kThresholdsUsage = "thresholds [LIMIT]";
constexpr const char* kShadowUsage = "shadow";
constexpr const char* kExplainUsage =
    "explain --client IP [--helo H] --from A --rcpt B [--rcpt C ...] [--sasl U]";
constexpr std::chrono::seconds kDefaultBlock{86400};
constexpr std::chrono::seconds kMaxBlock{365 * 86400};

Response ok(std::string text, std::vector<std::string> lines = {}) {
    Response r;
    r.ok = true;
    r.status_text = std::move(text);
    r.lines = std::move(lines);
    return r;
}

Response bad(const std::string& why, const char* usage) {
    Response r;
    r.status_text = why + "; usage: " + usage;
    return r;
}

std::string iso(std::uint32_t wall_seconds) {
    return format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(wall_seconds)));
}

// args[at] as a LIMIT (1..kMaxLimit), `fallback` when absent; nullopt when it is not one.
std::optional<std::size_t> limit_arg(const std::vector<std::string>& args, std::size_t at,
                                     std::size_t fallback) {
    if (args.size() <= at) return fallback;
    auto n = parse_integer(args[at]);
    if (!n.ok() || n.value < 1 || static_cast<std::uint64_t>(n.value) > kMaxLimit)
        return std::nullopt;
    return static_cast<std::size_t>(n.value);
}

std::string bad_limit(const std::string& arg) {
    return "bad LIMIT \"" + arg + "\": expected 1.." + std::to_string(kMaxLimit);
}

// An envelope address as an admin types it: "<>" and "" are the null sender; <a@b> is a@b.
std::string address_arg(const std::string& a) {
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') return a.substr(1, a.size() - 2);
    return a;
}

std::string greylist_line(const policy::GreylistRow& row) {
    return row.key + " " + row.kind + " " + row.state + " " + iso(row.entry.first_seen) + " " +
           iso(row.entry.last_seen) + " " + iso(row.entry.expires) + " " +
           std::to_string(row.entry.count);
}

// A key as list shows it: 32 hex digits, or "net:" and an address.
bool key_well_formed(const std::string& key) {
    if (key.rfind("net:", 0) == 0) return IpAddr::parse(std::string_view(key).substr(4)).has_value();
    return key.size() == 32 && key.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

Response greylist_verb(policy::Checks& checks, const Request& req) {
    const auto& a = req.args;
    auto& grey = checks.greylist();
    const std::string sub = a.empty() ? "" : a[0];
    if (sub == "list" && a.size() <= 2) {
        auto limit = limit_arg(a, 1, kDefaultListLimit);
        if (!limit) return bad(bad_limit(a[1]), kGreylistUsage);
        std::vector<std::string> lines;
        for (const auto& row : grey.list(*limit)) lines.push_back(greylist_line(row));
        std::string text = std::to_string(lines.size()) + " of " + std::to_string(grey.size()) + " entries";
        return ok(std::move(text), std::move(lines));
    }
    if ((sub == "show" || sub == "delete") && a.size() == 2) {
        if (!grey.show(a[1])) {
            // A well-formed key that is not there, or a malformed one: both answered ERR.
            if (!key_well_formed(a[1]))
                return bad("bad KEY \"" + a[1] + "\": expected 32 hex digits or net:ADDRESS",
                           kGreylistUsage);
            Response r;
            r.status_text = "no greylist entry " + a[1];
            return r;
        }
        if (sub == "show") return ok("", {greylist_line(*grey.show(a[1]))});
        if (!grey.erase(a[1])) {
            Response r;  // expired or deleted between the two calls
            r.status_text = "no greylist entry " + a[1];
            return r;
        }
        return ok("deleted " + a[1]);
    }
    if (sub == "flush" && a.size() == 1) return ok("flushed " + std::to_string(grey.flush()) + " entries");
    if (sub == "key" && a.size() == 4) {
        auto client = IpAddr::parse(a[1]);
        if (!client) return bad("bad CLIENT \"" + a[1] + "\": expected an IP address", kGreylistUsage);
        policy::Transaction t;
        t.client = client;
        t.client_address = a[1];
        t.sender = address_arg(a[2]);
        t.recipient = address_arg(a[3]);
        auto cfg = checks.engine().config();
        const auto& group = policy::resolve_group(*cfg, t, policy::direction_of(*cfg, t));
        // The recipient's group decides the prefixes and strip-* switches of the key; a group
        // without <greylist> gets the default group's settings (else the built-in ones).
        config::GreylistCfg settings;
        if (group.greylist) settings = *group.greylist;
        else if (cfg->default_group().greylist) settings = *cfg->default_group().greylist;
        return ok("group " + group.name, {grey.key_of(*client, t.sender, t.recipient, settings)});
    }
    if (sub.empty()) return bad("greylist needs a subcommand", kGreylistUsage);
    return bad("bad greylist arguments", kGreylistUsage);
}

bool group_exists(const config::Config& cfg, const std::string& name) {
    return std::any_of(cfg.groups.begin(), cfg.groups.end(),
                       [&](const config::GroupCfg& g) { return g.name == name; });
}

Response blacklist_verb(policy::Checks& checks, const Request& req) {
    const auto& a = req.args;
    auto& blocks = checks.state().blocks;
    const std::string sub = a.empty() ? "" : a[0];
    if (sub == "list" && a.size() <= 2) {
        auto limit = limit_arg(a, 1, kDefaultListLimit);
        if (!limit) return bad(bad_limit(a[1]), kBlacklistUsage);
        auto rows = blocks.list();
        std::vector<std::string> lines;
        for (const auto& row : rows) {
            if (lines.size() >= *limit) break;
            lines.push_back(row.client.str() + " " + (row.scope.empty() ? "global" : "group=" + row.scope) +
                            " " + (row.source == policy::BlockSource::admin ? "admin" : "spamtrap") +
                            " until=" + format_utc(row.until_wall) + " left=" + format_duration(row.left) +
                            " reason=\"" + row.reason + "\"");
        }
        std::string text = std::to_string(lines.size()) + " of " + std::to_string(rows.size()) + " entries";
        return ok(std::move(text), std::move(lines));
    }
    if ((sub == "add" && a.size() >= 2 && a.size() <= 4) ||
        (sub == "delete" && a.size() >= 2 && a.size() <= 3)) {
        auto ip = IpAddr::parse(a[1]);
        if (!ip) return bad("bad IP \"" + a[1] + "\": expected an IP address", kBlacklistUsage);
        std::chrono::seconds duration = kDefaultBlock;
        std::optional<std::string> scope;
        if (sub == "add") {
            if (a.size() >= 3) {
                auto d = parse_duration(a[2]);
                if (!d.ok() || d.value.count() <= 0 || d.value > kMaxBlock)
                    return bad("bad DURATION \"" + a[2] + "\": expected 1s..365d (s, m, h or d)",
                               kBlacklistUsage);
                duration = d.value;
            }
            scope = a.size() == 4 ? a[3] : "";
        } else if (a.size() == 3) {
            scope = a[2];
        }
        if (scope && !scope->empty() && !group_exists(*checks.engine().config(), *scope))
            return bad("no group \"" + *scope + "\" in the configuration", kBlacklistUsage);
        const std::string where = !scope ? "" : scope->empty() ? " globally" : " in group " + *scope;
        if (sub == "add") {
            blocks.add(*ip, *scope, duration, policy::BlockSource::admin, "added by mppctl");
            return ok("blocked " + ip->str() + where + " for " + format_duration(duration));
        }
        std::size_t n = blocks.remove(*ip, scope);
        if (n == 0) {
            Response r;
            r.status_text = ip->str() + " is not blocked" + where;
            return r;
        }
        return ok("unblocked " + ip->str() + where + " (" + std::to_string(n) + " entries)");
    }
    if (sub.empty()) return bad("blacklist needs a subcommand", kBlacklistUsage);
    return bad("bad blacklist arguments", kBlacklistUsage);
}

Response thresholds_verb(policy::Checks& checks, const Request& req) {
    if (req.args.size() > 1) return bad("too many arguments", kThresholdsUsage);
    auto limit = limit_arg(req.args, 0, kDefaultThresholdLimit);
    if (!limit) return bad(bad_limit(req.args[0]), kThresholdsUsage);
    auto rows = checks.state().thresholds.list();
    // Top talkers first: blocked keys, then by messages, then by spams.
    std::stable_sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
        if ((x.blocked_left.count() > 0) != (y.blocked_left.count() > 0))
            return x.blocked_left.count() > 0;
        if (x.messages != y.messages) return x.messages > y.messages;
        return x.spams > y.spams;
    });
    std::vector<std::string> lines;
    for (const auto& row : rows) {
        if (lines.size() >= *limit) break;
        lines.push_back(row.group + "/" + row.rule + " " + row.key +
                        " messages=" + std::to_string(row.messages) +
                        " spams=" + std::to_string(row.spams) + " blocked=" +
                        (row.blocked_left.count() > 0 ? format_duration(row.blocked_left) : "no"));
    }
    std::string text = std::to_string(lines.size()) + " of " + std::to_string(rows.size()) + " counters";
    return ok(std::move(text), std::move(lines));
}

Response shadow_verb(policy::Checks& checks, const Request& req) {
    if (!req.args.empty()) return bad("shadow takes no arguments", kShadowUsage);
    std::vector<std::string> lines;
    for (const auto& [name, n] : checks.engine().shadow_counts()) {
        if (lines.size() >= kMaxLimit) break;
        lines.push_back("shadow " + name + ": " + std::to_string(n));
    }
    std::string text = std::to_string(lines.size()) + " shadow rules counted";
    return ok(std::move(text), std::move(lines));
}

struct ExplainArgs {
    policy::Transaction t;  // recipient empty
    std::vector<std::string> rcpts;
};

// nullopt and *error on a bad argument.
std::optional<ExplainArgs> parse_explain(const std::vector<std::string>& args, std::string* error) {
    ExplainArgs out;
    bool have_client = false, have_from = false, have_helo = false, have_sasl = false;
    out.t.stage = policy::Stage::rcpt;
    out.t.client_name = "unknown";
    for (std::size_t i = 0; i < args.size(); i += 2) {
        const std::string& opt = args[i];
        if (opt != "--client" && opt != "--helo" && opt != "--from" && opt != "--rcpt" &&
            opt != "--sasl") {
            *error = "unknown option \"" + opt + "\"";
            return std::nullopt;
        }
        if (i + 1 >= args.size()) {
            *error = opt + " needs a value";
            return std::nullopt;
        }
        const std::string& v = args[i + 1];
        auto once = [&](bool& seen) {
            if (seen) *error = opt + " given twice";
            seen = true;
            return error->empty();
        };
        if (opt == "--client") {
            if (!once(have_client)) return std::nullopt;
            out.t.client_address = v;
            if (v != "unknown") {
                out.t.client = IpAddr::parse(v);
                if (!out.t.client) {
                    *error = "bad --client \"" + v + "\": expected an IP address or unknown";
                    return std::nullopt;
                }
            }
        } else if (opt == "--helo") {
            if (!once(have_helo)) return std::nullopt;
            out.t.helo = v;
        } else if (opt == "--from") {
            if (!once(have_from)) return std::nullopt;
            out.t.sender = address_arg(v);
        } else if (opt == "--sasl") {
            if (!once(have_sasl)) return std::nullopt;
            out.t.sasl_username = v;
        } else {
            if (address_arg(v).empty()) {
                *error = "empty --rcpt";
                return std::nullopt;
            }
            if (out.rcpts.size() >= kMaxRecipients) {
                *error = "more than " + std::to_string(kMaxRecipients) + " recipients";
                return std::nullopt;
            }
            out.rcpts.push_back(address_arg(v));
        }
    }
    if (!have_client) *error = "--client is required";
    else if (!have_from) *error = "--from is required (<> for the null sender)";
    else if (out.rcpts.empty()) *error = "at least one --rcpt is required";
    if (!error->empty()) return std::nullopt;
    return out;
}

std::string final_line(const policy::Verdict& v) {
    std::string s = "  final action=" + std::string(policy::action_name(v.action));
    if (v.code) s += " " + std::to_string(v.code) + " " + v.dsn + " " + v.text;
    if (!v.check.empty()) s += " (check " + v.check + ")";
    if (v.shadow) s += " shadow: not enforced";
    return s;
}

Response explain_verb(policy::Checks& checks, const Request& req) {
    std::string error;
    auto parsed = parse_explain(req.args, &error);
    if (!parsed) return bad(error, kExplainUsage);
    std::vector<std::string> lines;
    for (const auto& rcpt : parsed->rcpts) {
        policy::Transaction t = parsed->t;
        t.recipient = rcpt;
        policy::Explanation e = checks.explain(t);
        lines.push_back("rcpt " + rcpt + " group=" + e.group +
                        " direction=" + policy::direction_name(e.direction));
        for (const auto& step : e.steps)
            lines.push_back("  " + step.check + " " + step.result +
                            (step.detail.empty() ? "" : " " + step.detail));
        lines.push_back(final_line(e.verdict));
    }
    std::string text = std::to_string(parsed->rcpts.size()) + " recipients explained; nothing changed";
    return ok(std::move(text), std::move(lines));
}

}  // namespace

std::vector<PolicyVerb> policy_verbs(policy::Checks& checks) {
    auto bind = [&checks](Response (*fn)(policy::Checks&, const Request&)) {
        return [&checks, fn](const Request& req) { return fn(checks, req); };
    };
    return {
        {"greylist", std::string(kGreylistUsage) + "  greylist entries", bind(greylist_verb)},
        {"blacklist", std::string(kBlacklistUsage) + "  blocked clients", bind(blacklist_verb)},
        {"thresholds", std::string(kThresholdsUsage) + "  threshold counters, top first",
         bind(thresholds_verb)},
        {"shadow", std::string(kShadowUsage) + "  decisions of shadow-mode rules", bind(shadow_verb)},
        {"explain", std::string(kExplainUsage) + "  what-if, changing nothing", bind(explain_verb)},
    };
}

void register_policy_verbs(ControlServer& server, policy::Checks& checks) {
    for (auto& v : policy_verbs(checks)) server.add_verb(v.verb, std::move(v.usage), std::move(v.handler));
}

}  // namespace mpp::milter
