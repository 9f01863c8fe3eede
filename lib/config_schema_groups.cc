// lib/config_schema_groups.cc: schema of policy groups and their SMTP-level checks: <group>,
// <match>, <allow>/<deny>/<reject>/<defer> in a group, <greylist>, <threshold>, <spamtrap>,
// <rbl use>; and group inheritance, applied when a group is finished.
//
// Group rules (also in the man page): a recipient belongs to the first group, in file order,
// one of whose <match> elements it matches; else to the group "default", which takes no
// <match> and is implied (empty: no checks) when the file has none. A group may inherit="" a
// group defined above it: it starts with the base's checks, and each kind of check it declares
// replaces the base's checks of that kind; <reject>/<defer> replace per condition; <match>
// is never inherited. enabled="no" on a single check switches off an inherited one.
#include <set>
#include <string>

#include "lib/config_loader.h"
#include "lib/config_schema.h"
#include "lib/config_schema_shared.h"

namespace mpp::config::schema {

namespace {

constexpr std::int64_t kDay = 86400;

const Choices kRejectOn =
    Choices::of<Condition>({{"any", Condition::any},
                            {"deny", Condition::deny},
                            {"rbl", Condition::rbl},
                            {"spamtrap", Condition::spamtrap},
                            {"threshold", Condition::threshold},
                            {"header-filter", Condition::header_filter},
                            {"virus", Condition::virus},
                            {"score", Condition::score},
                            {"limits", Condition::limits},
                            {"verify-recipient", Condition::verify_recipient}});
const Choices kDeferOn = Choices::of<Condition>({{"any", Condition::any},
                                                 {"greylist", Condition::greylist},
                                                 {"threshold", Condition::threshold},
                                                 {"header-filter", Condition::header_filter},
                                                 {"error", Condition::error}});
const Choices kGreylistErrors = Choices::of<GreylistError>(
    {{"accept", GreylistError::accept}, {"defer", GreylistError::defer}});
const Choices kThresholdActions =
    Choices::of<ThresholdAction>({{"block", ThresholdAction::block},
                                  {"defer", ThresholdAction::defer},
                                  {"warn", ThresholdAction::warn},
                                  {"quarantine", ThresholdAction::quarantine}});
const Choices kThresholdKeys = Choices::of<ThresholdKey>({{"client", ThresholdKey::client},
                                                          {"sasl", ThresholdKey::sasl},
                                                          {"sender", ThresholdKey::sender},
                                                          {"subject", ThresholdKey::subject}});
const Choices kTrapScopes =
    Choices::of<TrapScope>({{"group", TrapScope::group}, {"global", TrapScope::global}});

void reply_checks(ReplyCfg& r, const NodeInfo& n, Checker& c, bool reject) {
    std::string el = reject ? "<reject>" : "<defer>";
    char want = reject ? '5' : '4';
    auto kind = [](char c) {
        return c == '5' ? "permanent" : c == '4' ? "temporary" : "a success code";
    };
    std::string needs = reject ? "; a reject needs " : "; a defer needs ";
    if (r.code == 0) {
        r.code = reject ? (r.on == Condition::limits ? 554 : 550) : 451;
    } else if (char got = std::to_string(r.code)[0]; got != want) {
        c.error(n.line_of("code"), el + ": code " + std::to_string(r.code) + " is " + kind(got) +
                                       needs + "a " + want + "xx code");
    }
    if (r.dsn.empty()) {
        r.dsn = reject ? (r.on == Condition::limits             ? "5.6.0"
                          : r.on == Condition::verify_recipient ? "5.1.1"
                                                                : "5.7.1")
                       : (r.on == Condition::error ? "4.3.0" : "4.7.1");
    } else if (r.dsn[0] != want) {
        c.error(n.line_of("dsn"), el + ": enhanced status code " + r.dsn + " is " + kind(r.dsn[0]) +
                                      needs + want + ".x.x");
    }
    if (r.text.empty())
        r.text = reject ? "Message rejected: %REASON%"
                        : (r.on == Condition::greylist ? "Greylisted, please try again later"
                                                       : "Please try again later: %REASON%");
    std::size_t lines = 0, start = 0;
    while (start <= r.text.size()) {
        std::size_t end = r.text.find('\n', start);
        if (end == std::string::npos) end = r.text.size();
        ++lines;
        if (end - start > 400) {
            c.error(n.text_line, el + ": a reply line is longer than 400 characters");
            break;
        }
        start = end + 1;
    }
    if (lines > 32) c.error(n.text_line, el + ": a reply has at most 32 lines");
    for (unsigned char ch : r.text)
        if (ch >= 0x80) {
            c.error(n.text_line, el + ": the reply text must be ASCII (SMTP replies are 7-bit)");
            break;
        }
}

template <typename T>
void inherit_vector(std::vector<T>& mine, const std::vector<T>& base) {
    if (mine.empty()) mine = base;
}
template <typename T>
void inherit_optional(std::optional<T>& mine, const std::optional<T>& base) {
    if (!mine) mine = base;
}
template <typename T>
void drop_disabled(std::optional<T>& o) {
    if (o && !o->enabled) o.reset();
}

void inherit_replies(std::vector<ReplyCfg>& mine, const std::vector<ReplyCfg>& base) {
    std::set<Condition> own;
    for (const auto& r : mine) own.insert(r.on);
    for (const auto& r : base)
        if (!own.count(r.on)) mine.push_back(r);
}

void duplicate_conditions(const std::vector<ReplyCfg>& rs, const char* el, Checker& c) {
    std::set<Condition> seen;
    for (const auto& r : rs)
        if (!seen.insert(r.on).second)
            c.error(r.line,
                    std::string(el) + ": a second reply for the same condition in this group");
}

void group_finish(GroupCfg& g, const NodeInfo& n, Checker& c) {
    bool is_default = g.name == "default";
    if (is_default && !g.matches.empty())
        c.error(g.matches.front().line,
                "group \"default\" takes no <match>: it applies to every recipient that no other "
                "group matches");
    if (is_default && g.inherit) c.error(n.line_of("inherit"), "group \"default\" cannot inherit");
    if (!is_default && g.matches.empty())
        c.error(n.line, "group \"" + g.name + "\" has no <match>, so it would never apply");
    duplicate_conditions(g.rejects, "<reject>", c);
    duplicate_conditions(g.defers, "<defer>", c);
    std::set<std::pair<Direction, std::string>> disclaimers;
    for (const auto& d : g.disclaimers)
        if (!disclaimers.insert({d.direction, d.charset}).second)
            c.error(d.line,
                    "<disclaimer>: a second disclaimer for the same direction and charset in this "
                    "group");

    auto& groups = c.config().groups;
    if (g.inherit && g.inherit->index < groups.size() && &groups[g.inherit->index] != &g) {
        const GroupCfg& base = groups[g.inherit->index];
        inherit_vector(g.allow, base.allow);
        inherit_vector(g.deny, base.deny);
        inherit_optional(g.greylist, base.greylist);
        inherit_vector(g.thresholds, base.thresholds);
        inherit_vector(g.spamtraps, base.spamtraps);
        inherit_vector(g.rbls, base.rbls);
        inherit_vector(g.header_filters, base.header_filters);
        inherit_optional(g.scan, base.scan);
        inherit_optional(g.score, base.score);
        inherit_vector(g.strips, base.strips);
        inherit_vector(g.disclaimers, base.disclaimers);
        inherit_replies(g.rejects, base.rejects);
        inherit_replies(g.defers, base.defers);
        inherit_optional(g.quarantine, base.quarantine);
        inherit_optional(g.archive, base.archive);
        inherit_optional(g.verify_recipient, base.verify_recipient);
    }
    drop_disabled(g.greylist);
    drop_disabled(g.scan);
    drop_disabled(g.score);
    drop_disabled(g.quarantine);
    drop_disabled(g.archive);
    drop_disabled(g.verify_recipient);
    c.names().groups_done++;
}

Element group() {
    Builder<GroupCfg, Config> b(
        "group", "mppd", Mult::many,
        "A policy group: the recipients it applies to (<match>) and the checks they get.");
    b.in(&Config::groups).built(true, "");
    b.attr("name", Type::name, &GroupCfg::name, "",
           "Name in logs and records; unique; \"default\" is the fallback group.")
        .require();
    b.attr("inherit", Type::group_ref, &GroupCfg::inherit, "",
           "A group defined above whose checks this one starts from.");
    b.attr("split-recipients", Type::boolean, &GroupCfg::split_recipients, "no",
           "yes: a recipient of another group than the first accepted recipient of the "
           "transaction gets 452 4.5.3, so the client sends it in a transaction of its own.");
    b.finish(group_finish);
    return b.done();
}

Element match() {
    Builder<MatchCfg, GroupCfg> b("match", "group", Mult::many,
                                  "Who the group applies to: every attribute given must match "
                                  "(AND); several <match> elements are alternatives (OR). "
                                  "An empty <match/> matches all mail.");
    b.in(&GroupCfg::matches).built(true, "");
    Element e = b.done();
    add_match_attrs(e);
    return e;
}

Element group_access(bool allow) {
    Builder<MatchCfg, GroupCfg> b(
        allow ? "allow" : "deny", "group", Mult::many,
        allow ? "Mail of this group matching it skips the group's checks except virus scanning."
              : "Mail of this group matching it is rejected (condition deny).");
    b.in(allow ? &GroupCfg::allow : &GroupCfg::deny).built(true, "");
    if (!allow)
        b.choice("mode", kCheckModes, &MatchCfg::mode, "enforce",
                 "shadow: a match is logged \"would have rejected\" and counted (mppctl "
                 "status), never enforced.");
    Element e = b.done();
    add_match_attrs(e);
    require_some_match(e);
    return e;
}

Element greylist() {
    Builder<GreylistCfg, GroupCfg> b("greylist", "group", Mult::optional,
                                     "Greylisting: the first attempt of an unknown (client "
                                     "network, sender, recipient) triplet is deferred.");
    b.in(&GroupCfg::greylist).built(true, "");
    b.attr("enabled", Type::boolean, &GreylistCfg::enabled, "yes",
           "no: switch off an inherited greylist.");
    b.attr("delay", Type::duration, &GreylistCfg::delay, "5m",
           "How long a new triplet is deferred.")
        .range(0, kDay);
    b.attr("retry-window", Type::duration, &GreylistCfg::retry_window, "2d",
           "How long after the first attempt a retry is accepted.")
        .range(60, 30 * kDay);
    b.attr("expire", Type::duration, &GreylistCfg::expire, "35d",
           "How long a passed triplet is remembered.")
        .range(kDay, 365 * kDay);
    b.attr("auto-whitelist", Type::integer, &GreylistCfg::auto_whitelist, "5",
           "After this many passed triplets a client network skips greylisting; 0: never.")
        .range(0, 1000);
    b.attr("ipv4-prefix", Type::integer, &GreylistCfg::ipv4_prefix, "24",
           "IPv4 clients are grouped by this prefix.")
        .range(0, 32);
    b.attr("ipv6-prefix", Type::integer, &GreylistCfg::ipv6_prefix, "64",
           "IPv6 clients are grouped by this prefix.")
        .range(0, 128);
    b.attr("strip-srs", Type::boolean, &GreylistCfg::strip_srs, "yes",
           "Key an SRS sender (SRS0=HASH=TT=domain=local@forwarder) as local@domain.");
    b.attr("strip-batv", Type::boolean, &GreylistCfg::strip_batv, "yes",
           "Drop a BATV tag (prvs=TAG=local@, btv1==TAG==local@) from the sender.");
    b.attr("strip-extension", Type::boolean, &GreylistCfg::strip_extension, "yes",
           "Drop a +extension from the sender's local part.");
    b.attr("strip-verp", Type::boolean, &GreylistCfg::strip_verp, "yes",
           "Replace each number that is a whole word of the sender's local part by # (VERP tags).");
    b.attr("exempt", Type::list_refs, &GreylistCfg::exempt, "",
           "Lists whose matches are never greylisted.");
    b.choice("on-error", kGreylistErrors, &GreylistCfg::on_error, "accept",
             "When the greylist store is unavailable: accept (DUNNO and a log line) or defer.");
    b.choice("mode", kCheckModes, &GreylistCfg::mode, "enforce",
             "shadow: triplets are recorded as usual, a deferral is logged \"would have "
             "greylisted\" and counted (mppctl status), never sent.");
    b.finish([](GreylistCfg& g, const NodeInfo& n, Checker& c) {
        if (g.delay >= g.retry_window)
            c.error(n.line_of("delay"), "<greylist>: delay must be shorter than retry-window");
    });
    return b.done();
}

Element threshold() {
    Builder<ThresholdCfg, GroupCfg> b(
        "threshold", "group", Mult::many,
        "A rate threshold with auto-blacklisting: a key (client, SASL user, sender, subject) that "
        "sends more than `messages` messages (or `recipients` recipients, or `size` bytes) "
        "and/or at least `spams` spams within `period` gets `action` for `block-for`.");
    b.in(&GroupCfg::thresholds).built(true, "");
    b.attr("name", Type::name, &ThresholdCfg::name, "",
           "Name in logs, alerts and mppctl. Empty: threshold-LINE.");
    b.attr("messages", Type::integer, &ThresholdCfg::messages, "0",
           "Messages in the period that cross it; 0: not counted.")
        .range(0, 10000000);
    b.attr("recipients", Type::integer, &ThresholdCfg::recipients, "0",
           "Recipients in the period that cross it, counted at END-OF-MESSAGE; 0: not counted.")
        .range(0, 100000000);
    b.attr("size", Type::size, &ThresholdCfg::size, "0",
           "Bytes in the period that cross it, counted at END-OF-MESSAGE; 0: not counted.")
        .range(0, 1024LL * 1024 * 1024 * 1024);
    b.attr("spams", Type::integer, &ThresholdCfg::spams, "0",
           "Spams in the period that cross it; 0: not counted.")
        .range(0, 10000000);
    b.attr("period", Type::duration, &ThresholdCfg::period, "1m", "The sliding window.")
        .range(1, 30 * kDay);
    b.attr("block-for", Type::duration, &ThresholdCfg::block_for, "1h",
           "How long the action lasts once crossed.")
        .range(0, 365 * kDay);
    b.choice("action", kThresholdActions, &ThresholdCfg::action, "block",
             "block (reject), defer (4xx: rate limiting), warn (alert only) or quarantine.");
    b.choice("direction", kDirections, &ThresholdCfg::direction, "any", "Mail counted.");
    b.choice("key", kThresholdKeys, &ThresholdCfg::key, "client",
             "What is counted: client address, SASL user, sender or subject.");
    b.attr("alert-to", Type::mail_addresses, &ThresholdCfg::alert_to, "",
           "Who gets the alert when it is crossed. Empty: <alerts to>.");
    b.attr("exempt", Type::list_refs, &ThresholdCfg::exempt, "",
           "Lists whose matches are never counted.");
    b.choice("mode", kCheckModes, &ThresholdCfg::mode, "enforce",
             "shadow: counted, and a crossing is logged \"would have\" and counted per rule "
             "(mppctl status), never enforced.");
    b.finish([](ThresholdCfg& t, const NodeInfo& n, Checker& c) {
        if (t.messages == 0 && t.recipients == 0 && t.size == 0 && t.spams == 0)
            c.error(n.line, "<threshold>: needs messages, recipients, size or spams above 0");
        if ((t.messages > 0) + (t.recipients > 0) + (t.size > 0) > 1)
            c.error(n.line, "<threshold>: counts one of messages, recipients or size (use one "
                            "rule for each)");
        if (t.name.empty()) t.name = "threshold-" + std::to_string(n.line);
    });
    return b.done();
}

Element spamtrap() {
    Builder<SpamtrapCfg, GroupCfg> b("spamtrap", "group", Mult::many,
                                     "A spam trap: a client that sends to a recipient matching the "
                                     "pattern is blocked for block-for.");
    b.in(&GroupCfg::spamtraps).built(true, "");
    b.attr("pattern", Type::regex, &SpamtrapCfg::pattern, "", "Regex over the recipient address.")
        .require();
    b.choice("scope", kTrapScopes, &SpamtrapCfg::scope, "group",
             "Block the client for this group only, or for all groups.");
    b.attr("block-for", Type::duration, &SpamtrapCfg::block_for, "1d",
           "How long the client stays blocked.")
        .range(0, 365 * kDay);
    b.attr("exempt", Type::list_refs, &SpamtrapCfg::exempt, "",
           "Lists whose matches never spring the trap.");
    b.choice("mode", kCheckModes, &SpamtrapCfg::mode, "enforce",
             "shadow: a hit is logged \"would have rejected\" and counted per trap (mppctl "
             "status); the recipient passes and the client is not blocked.");
    return b.done();
}

Element rbl_use() {
    Builder<RblUseCfg, GroupCfg> b("rbl", "group", Mult::many,
                                   "Uses RBLs defined by <rbl name>: their scores are summed; at "
                                   "reject-at the recipient is rejected at RCPT, "
                                   "below it the sum joins the message score (<score>).");
    b.in(&GroupCfg::rbls).built(true, "");
    b.attr("use", Type::rbl_refs, &RblUseCfg::use, "", "Names of <rbl> definitions.").require();
    b.attr("reject-at", Type::number, &RblUseCfg::reject_at, "",
           "Sum of scores that rejects. Not set: never reject, only score.")
        .range_number(-1000, 1000);
    b.attr("exempt", Type::list_refs, &RblUseCfg::exempt, "",
           "Lists whose matches are not looked up.");
    return b.done();
}

}  // namespace

void add_reply_attrs_and_checks(Element& e, bool reject) {
    Attr& on = e.attr<ReplyCfg>(
        "on", Type::choice, &ReplyCfg::on, "any",
        "The condition this reply is for; any: every condition without a reply of its own.");
    on.choices = reject ? &kRejectOn : &kDeferOn;
    e.attr<ReplyCfg>("code", Type::smtp_code, &ReplyCfg::code, "",
                     reject ? "SMTP code, 5xx." : "SMTP code, 4xx.")
        .docs_default(reject ? "550 (554 for on=limits)" : "451");
    e.attr<ReplyCfg>("dsn", Type::dsn, &ReplyCfg::dsn, "",
                     reject ? "Enhanced status code, 5.x.x." : "Enhanced status code, 4.x.x.")
        .docs_default(reject ? "5.7.1 (5.6.0 for limits, 5.1.1 for verify-recipient)"
                             : "4.7.1 (4.3.0 for error)");
    e.finish = [reject](Obj o, const NodeInfo& n, Checker& c) {
        reply_checks(o.as<ReplyCfg>(), n, c, reject);
    };
}

void add_group_elements(std::vector<Element>& t) {
    t.push_back(group());
    t.push_back(match());
    t.push_back(group_access(true));
    t.push_back(group_access(false));
    t.push_back(greylist());
    t.push_back(threshold());
    t.push_back(spamtrap());
    t.push_back(rbl_use());
    t.push_back(reply_element<GroupCfg>(true, "group", &GroupCfg::rejects));
    t.push_back(reply_element<GroupCfg>(false, "group", &GroupCfg::defers));
}

}  // namespace mpp::config::schema
