// lib/config_schema_definitions.cc: schema of the named definitions that groups refer to
// (<list>, <rbl>, <spamd>, <clamd>, <command> with <arg>), the global <allow>, <deny>,
// <reject>, <defer>, and the shared pieces declared in lib/config_schema_shared.h.
//
// Names are unique per kind (lists, rbls) or across all engines (spamd, clamd, command share
// one namespace, as <scan engines> names them together); the loader checks that before the
// main pass. List entries are validated per list type, each error on the entry's own line.
#include <algorithm>
#include <string>

#include "lib/config_loader.h"
#include "lib/config_schema.h"
#include "lib/config_schema_shared.h"

namespace mpp::config::schema {

const Choices kDirections = Choices::of<Direction>(
    {{"any", Direction::any}, {"inbound", Direction::inbound}, {"outbound", Direction::outbound}});
const Choices kEngineErrors = Choices::of<EngineError>(
    {{"accept", EngineError::accept}, {"tag", EngineError::tag}, {"defer", EngineError::defer}});
const Choices kCheckModes =
    Choices::of<CheckMode>({{"enforce", CheckMode::enforce}, {"shadow", CheckMode::shadow}});

namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kM = 1024LL * 1024;

const Choices kSasl =
    Choices::of<Tristate>({{"any", Tristate::any}, {"yes", Tristate::yes}, {"no", Tristate::no}});
const Choices kListTypes = Choices::of<ListType>({{"cidr", ListType::cidr},
                                                  {"address", ListType::address},
                                                  {"domain", ListType::domain},
                                                  {"regex", ListType::regex}});
const Choices kLookups = Choices::of<RblLookup>({{"client", RblLookup::client},
                                                 {"helo", RblLookup::helo},
                                                 {"sender-domain", RblLookup::sender_domain}});
const Choices kLimitActions = Choices::of<LimitAction>({{"reject", LimitAction::reject},
                                                        {"quarantine", LimitAction::quarantine},
                                                        {"accept", LimitAction::accept}});
const Choices kInputs =
    Choices::of<CommandInput>({{"file", CommandInput::file}, {"stdin", CommandInput::stdin_}});

// Bounds: a regex list compiles every entry at load (RELIABILITY L10 measures 10k rules).
constexpr std::size_t kMaxListEntries = 1000000;
constexpr std::size_t kMaxRegexEntries = 100000;

void list_entries(ListCfg& l, const NodeInfo& n, Checker& c) {
    std::string where = "<list name=\"" + l.name + "\">: ";
    std::size_t max = l.type == ListType::regex ? kMaxRegexEntries : kMaxListEntries;
    for (const auto& [entry, line] : Checker::entries(n.text, n.text_line)) {
        if (l.entries.size() >= max) {
            c.error(line, where + "more than " + std::to_string(max) + " entries");
            return;
        }
        std::string error;
        switch (l.type) {
        case ListType::cidr:
            if (auto net = Cidr::parse(entry, &error)) l.nets.add(*net);
            break;
        case ListType::address:
            if (auto p = AddressPattern::parse(entry, &error)) l.addresses.push_back(std::move(*p));
            break;
        case ListType::domain: {
            std::string d = to_lower_ascii(entry);
            std::string_view bare = d;
            if (bare.substr(0, 2) == "*.") bare.remove_prefix(2);
            if (valid_domain(bare))
                l.domains.push_back(d);
            else
                error = "bad domain \"" + std::string(entry) +
                        "\" (a domain, or *.domain for its subdomains)";
            break;
        }
        case ListType::regex: {
            auto r = Regex::compile(entry);
            if (r.ok())
                l.regexes.push_back(r.regex);
            else
                error = "bad regex \"" + std::string(entry) + "\": " + r.error;
            break;
        }
        }
        if (!error.empty())
            c.error(line, where + error);
        else
            l.entries.emplace_back(entry);
    }
}

Element list() {
    Builder<ListCfg, Config> b("list", "mppd", Mult::many,
                               "A named list of networks, addresses, domains or regexes, referred "
                               "to by name from <match>, exempt and other attributes.");
    b.in(&Config::lists)
        .built(true, "")
        .text_entries(
            "Whitespace-separated entries: networks (cidr), address patterns (address), domains or "
            "*.domain (domain), "
            "or PCRE2 patterns without spaces (regex).");
    b.attr("name", Type::name, &ListCfg::name, "",
           "Name the list is referred to by; unique among lists.")
        .require();
    b.choice("type", kListTypes, &ListCfg::type, "", "What the entries are.").require();
    b.finish(list_entries);
    return b.done();
}

Element rbl() {
    Builder<RblCfg, Config> b(
        "rbl", "mppd", Mult::many,
        "A DNS blocklist zone, defined once and used by groups with <rbl use>.");
    b.in(&Config::rbls).built(true, "");
    b.attr("name", Type::name, &RblCfg::name, "", "Name groups use it by; unique among rbls.")
        .require();
    b.attr("zone", Type::domain, &RblCfg::zone, "", "DNS zone queried (zen.spamhaus.org).")
        .require();
    b.attr("score", Type::number, &RblCfg::score, "1",
           "Score a listing adds (negative for allow lists).")
        .range_number(-100, 100);
    b.attr("answers", Type::networks, &RblCfg::answers, "127.0.0.0/8",
           "A records that count as listed; answers in 127.255.255.0/24 are the zone's errors and "
           "never count.");
    b.choice(
        "lookup", kLookups, &RblCfg::lookup, "client",
        "What is looked up: the client address, the HELO name, or the sender's domain (RHSBL).");
    b.attr("timeout", Type::duration, &RblCfg::timeout, "0s",
           "Deadline of a query; 0s: the <dns> timeout.")
        .range(0, 60);
    return b.done();
}

template <typename S>
void engine_attrs(Builder<S, Config>& b, const char* timeout, const char* max_size,
                  const char* on_error) {
    b.attr("name", Type::name, &S::name, "", "Name <scan engines> uses; unique among all engines.")
        .require();
    b.attr("timeout", Type::duration, &S::timeout, timeout, "Deadline of one call.")
        .range(1, kHour);
    b.attr("max-size", Type::size, &S::max_size, max_size,
           "Larger messages are not sent to this engine.")
        .range(1024, 1024 * kM);
    b.attr("connections", Type::integer, &S::connections, "4",
           "Calls at once (a bounded pool; more wait).")
        .range(1, 256);
    b.choice("on-error", kEngineErrors, &S::on_error, on_error,
             "When the engine fails or times out: accept, tag (accept with a header saying it was "
             "not checked) or defer (4xx).");
    b.attr("breaker-failures", Type::integer, &S::breaker_failures, "5",
           "Consecutive failures that open the circuit breaker (calls then skip straight to "
           "on-error); 0: never.")
        .range(0, 1000);
    b.attr("breaker-retry", Type::duration, &S::breaker_retry, "30s",
           "How long an open breaker waits before it probes the engine.")
        .range(1, kHour);
}

Element spamd() {
    Builder<SpamdCfg, Config> b("spamd", "mppd", Mult::many, "A SpamAssassin spamd server.");
    b.in(&Config::spamd).built(false, "spamd scanning");
    engine_attrs(b, "30s", "512K", "tag");
    b.attr("address", Type::endpoint, &SpamdCfg::address, "127.0.0.1:783", "spamd's address.")
        .not_empty();
    b.attr("user", Type::string, &SpamdCfg::user, "",
           "User name passed to spamd (its per-user rules). Empty: none.");
    b.attr("weight", Type::number, &SpamdCfg::weight, "1",
           "Multiplies spamd's score before it is added to the message score.")
        .range_number(0, 100);
    return b.done();
}

Element clamd() {
    Builder<ClamdCfg, Config> b("clamd", "mppd", Mult::many, "A ClamAV clamd server.");
    b.in(&Config::clamd).built(false, "clamd scanning");
    engine_attrs(b, "60s", "25M", "defer");
    b.attr("address", Type::endpoint, &ClamdCfg::address, "unix:/run/clamav/clamd.ctl",
           "clamd's address.")
        .not_empty();
    b.choice("on-limits", kLimitActions, &ClamdCfg::on_limits, "reject",
             "When clamd reports that its scan limits were exceeded (an archive bomb): a final "
             "decision.");
    return b.done();
}

void command_checks(CommandCfg& cmd, const NodeInfo& n, Checker& c) {
    std::string where = "<command name=\"" + cmd.name + "\">: ";
    if (cmd.input == CommandInput::file &&
        std::none_of(cmd.args.begin(), cmd.args.end(),
                     [](const std::string& a) { return a.find("%FILE%") != std::string::npos; }))
        c.error(n.line, where + "input=\"file\" needs an <arg> containing %FILE%");
    for (int code : cmd.virus_exit)
        if (std::find(cmd.clean_exit.begin(), cmd.clean_exit.end(), code) != cmd.clean_exit.end()) {
            c.error(n.line_of("virus-exit"),
                    where + "exit code " + std::to_string(code) + " is both clean and virus");
            break;
        }
    if (cmd.virus_name && cmd.virus_name->capture_count() < 1)
        c.error(n.line_of("virus-name"),
                where + "virus-name needs a capture group: (...) around the name");
}

Element command() {
    Builder<CommandCfg, Config> b("command", "mppd", Mult::many,
                                  "A command-line virus scanner, run without a shell with an "
                                  "argument vector given by <arg> children.");
    b.in(&Config::commands).built(false, "command-line scanning");
    engine_attrs(b, "60s", "25M", "defer");
    b.attr("path", Type::path, &CommandCfg::path, "", "Absolute path of the program.").require();
    b.choice(
        "input", kInputs, &CommandCfg::input, "file",
        "How the message reaches it: a file named by %FILE% in an <arg>, or its standard input.");
    b.attr("clean-exit", Type::exit_codes, &CommandCfg::clean_exit, "0",
           "Exit codes that mean clean.");
    b.attr("virus-exit", Type::exit_codes, &CommandCfg::virus_exit, "",
           "Exit codes that mean infected; any other code is an error.")
        .require();
    b.attr("virus-name", Type::regex, &CommandCfg::virus_name, "",
           "Regex over the output whose first capture group is the virus name.");
    b.finish(command_checks);
    return b.done();
}

Element arg() {
    Builder<std::string, CommandCfg> b("arg", "command", Mult::many,
                                       "One argument of the scanner's argument vector, in order.");
    b.in(&CommandCfg::args)
        .built(false, "command-line scanning")
        .text_self(Text::template_text, "The argument; %FILE% is the path of the message file.",
                   &kArgMacros);
    return b.done();
}

Element global_access(bool allow) {
    Builder<MatchCfg, Config> b(allow ? "allow" : "deny", "mppd", Mult::many,
                                allow ? "Mail matching it (all attributes given) skips every check "
                                        "of every group except virus scanning."
                                      : "Mail matching it (all attributes given) is rejected "
                                        "(condition deny) as early as possible.");
    b.in(allow ? &Config::allow : &Config::deny).built(true, "");
    if (!allow)
        b.choice("mode", kCheckModes, &MatchCfg::mode, "enforce",
                 "shadow: a match is logged \"would have rejected\" and counted (mppctl "
                 "status), never enforced.");
    Element e = b.done();
    add_match_attrs(e);
    require_some_match(e);
    return e;
}

}  // namespace

void add_match_attrs(Element& e) {
    e.attr<MatchCfg>("recipient", Type::address_match, &MatchCfg::recipient, "",
                     "Recipient address patterns and/or names of address, domain or regex lists.");
    e.attr<MatchCfg>("recipient-domain", Type::domain_match, &MatchCfg::recipient_domain, "",
                     "Recipient domain patterns and/or names of domain lists.");
    e.attr<MatchCfg>("sender", Type::address_match, &MatchCfg::sender, "",
                     "Sender address patterns and/or names of address, domain or regex lists.");
    e.attr<MatchCfg>("sender-domain", Type::domain_match, &MatchCfg::sender_domain, "",
                     "Sender domain patterns and/or names of domain lists.");
    e.attr<MatchCfg>("client", Type::net_match, &MatchCfg::client, "",
                     "Client networks and/or names of cidr lists.");
    Attr& d = e.attr<MatchCfg>("direction", Type::choice, &MatchCfg::direction, "any",
                               "Direction of the mail (see <networks>).");
    d.choices = &kDirections;
    Attr& s = e.attr<MatchCfg>("sasl", Type::choice, &MatchCfg::sasl, "any",
                               "Whether the client authenticated with SASL.");
    s.choices = &kSasl;
}

void require_some_match(Element& e) {
    e.finish = [](Obj o, const NodeInfo& n, Checker& c) {
        const MatchCfg& m = o.as<MatchCfg>();
        if (m.recipient.empty() && m.recipient_domain.empty() && m.sender.empty() &&
            m.sender_domain.empty() && m.client.empty())
            c.error(n.line, "<" + std::string(n.name) +
                                "> needs recipient, recipient-domain, sender, sender-domain or "
                                "client (else it matches all mail)");
    };
}

void add_definition_elements(std::vector<Element>& t) {
    t.push_back(list());
    t.push_back(rbl());
    t.push_back(spamd());
    t.push_back(clamd());
    t.push_back(command());
    t.push_back(arg());
    t.push_back(global_access(true));
    t.push_back(global_access(false));
    t.push_back(reply_element<Config>(true, "mppd", &Config::rejects));
    t.push_back(reply_element<Config>(false, "mppd", &Config::defers));
}

}  // namespace mpp::config::schema
