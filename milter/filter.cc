// milter/filter.cc: the milter's work per callback (see filter.h).
#include "milter/filter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "engines/header_filter.h"
#include "lib/cidr.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/groups.h"
#include "milter/filter_util.h"
#include "milter/verdict_reply.h"

namespace mpp::milter {
namespace {

std::string address_text(const sockaddr* sa) {
    if (!sa) return "";
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
}

// Postfix sends "[192.0.2.1]" for a client without a verified name; the checks and the logs
// call that "unknown", as Postfix does.
std::string client_name_of(const char* hostname) {
    std::string n = hostname ? hostname : "";
    if (n.empty() || n.front() == '[') return "unknown";
    return n;
}

std::string strip_brackets(const char* addr) {
    std::string s = addr ? addr : "";
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return s;
}

// MAIL FROM's SIZE=N parameter (argv[1...]), 0 when absent or not a number.
std::uint64_t declared_size(char** argv) {
    if (!argv || !argv[0]) return 0;
    for (char** a = argv + 1; *a; ++a) {
        if (strncasecmp(*a, "SIZE=", 5) != 0) continue;
        std::uint64_t n = 0;
        const char* p = *a + 5;
        if (!*p) return 0;
        for (; *p; ++p) {
            if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10) return 0;
            n = n * 10 + static_cast<unsigned>(*p - '0');
        }
        return n;
    }
    return 0;
}

// Header and body callbacks need no reply when the MTA agreed to that (fewer round trips).
sfsistat no_reply(const Session& s, unsigned long flag) {
    return s.protocol & flag ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

bool counts_at_end_of_message(const config::ThresholdCfg& rule) {
    return rule.recipients > 0 || rule.size > 0 || rule.key == config::ThresholdKey::subject;
}

}  // namespace

FilterContext::FilterContext(const config::ConfigHolder* holder)
    : holder_(holder),
      next_id_(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count())) {}

void FilterContext::set_checks(std::shared_ptr<policy::Checks> checks,
                               bool policy_server_serving) {
    policy_server_ = policy_server_serving;
    checks_.store(std::move(checks));
}

std::string FilterContext::next_message_id() {
    return "milter." + std::to_string(next_id_.fetch_add(1));
}

bool milter_runs_checks(config::MilterChecks mode, bool policy_server_serving) {
    return mode == config::MilterChecks::yes ||
           (mode == config::MilterChecks::automatic && !policy_server_serving);
}

std::string checks_placement_warning(const config::Config& cfg, bool policy_server_serving) {
    bool any = false;
    for (const auto& g : cfg.groups)
        if (g.greylist || !g.thresholds.empty() || !g.spamtraps.empty()) any = true;
    const bool milter =
        cfg.milter.enabled && milter_runs_checks(cfg.milter.checks, policy_server_serving);
    if (any && !milter && !policy_server_serving)
        return "the SMTP-level checks (greylist, thresholds, spam traps) have no effect: the "
               "policy server is off, and the milter is off or has checks=\"no\"";
    if (any && milter && policy_server_serving)
        return "<milter checks=\"yes\"> and the policy server both run the SMTP-level checks: "
               "where Postfix asks both, each message counts twice in the thresholds and the "
               "greylist";
    bool subject = false;
    for (const auto& g : cfg.groups)
        for (const auto& rule : g.thresholds)
            if (rule.key == config::ThresholdKey::subject) subject = true;
    if (subject && !milter)
        return "<threshold key=\"subject\"> has no effect: only the milter sees the subject, "
               "and it does not run the checks (<milter checks>)";
    return "";
}

bool needs_end_of_message_checks(const config::Config& cfg) {
    for (const auto& g : cfg.groups)
        for (const auto& rule : g.thresholds)
            if (counts_at_end_of_message(rule)) return true;
    return false;
}

policy::Transaction transaction_for(const Session& s, const Message& m,
                                    const std::string& recipient) {
    policy::Transaction t;
    t.stage = policy::Stage::rcpt;
    t.client = IpAddr::parse(s.client_addr);
    t.client_address = s.client_addr.empty() ? "unknown" : s.client_addr;
    t.client_name = s.client_name.empty() ? "unknown" : s.client_name;
    t.helo = s.helo;
    t.sender = m.sender;
    t.recipient = recipient;
    t.sasl_username = m.sasl_username;
    t.queue_id = m.queue_id;
    t.size = m.declared_size;
    t.instance = m.id;
    return t;
}

std::unique_ptr<Session> Filter::open_session() const {
    auto s = std::make_unique<Session>();
    s->config = context_.holder()->current();
    s->checks = s->config->milter.enabled &&
                milter_runs_checks(s->config->milter.checks, context_.policy_server_serving());
    s->eom_checks = s->checks && needs_end_of_message_checks(*s->config);
    s->content = s->config->milter.enabled && (s->eom_checks || any_content_checks(*s->config));
    return s;
}

Filter::Negotiated Filter::negotiate(Session& s, MilterContext& mc, unsigned long mta_actions,
                                     unsigned long mta_protocol) const {
    Negotiated n;
    // Header additions only when the checks or the content checks run (Verdict::prepend,
    // X-MPP-Status, X-MPP-Score, X-Spam-Flag); recipient removal only for the content checks
    // (a recipient whose group refuses what the others accept); header changes only for a
    // <score subject-prefix>.
    const bool filters = s.content && any_content_checks(*s.config);
    n.actions = mta_actions & (SMFIF_SETSYMLIST | (s.checks || s.content ? SMFIF_ADDHDRS : 0) |
                               (filters ? SMFIF_DELRCPT : 0) |
                               (filters && any_subject_prefix(*s.config) ? SMFIF_CHGHDRS : 0));
    // Steps this version does not use are skipped; HELO only records, so it needs no reply;
    // headers and body chunks need one only when the content stage keeps them (a message too
    // big is refused where it becomes so); RCPT needs one when the checks answer it or the
    // content stage bounds the recipients.
    unsigned long want = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH | SMFIP_NR_HELO;
    if (!s.content) want |= SMFIP_NR_HDR | SMFIP_NR_BODY;
    if (!s.checks && !s.content) want |= SMFIP_NR_RCPT;
    n.protocol = mta_protocol & want;
    s.actions = n.actions;
    s.protocol = n.protocol;
    if (n.actions & SMFIF_SETSYMLIST) {
        const std::pair<int, const char*> lists[] = {{SMFIM_CONNECT, "j _ {daemon_name} {if_addr}"},
                                                     {SMFIM_ENVFROM, "i {auth_authen}"},
                                                     {SMFIM_ENVRCPT, "i"},
                                                     {SMFIM_EOM, "i"}};
        for (const auto& [stage, names] : lists)
            if (!mc.request_macros(stage, names))
                action_failed("", log::cat("smfi_setsymlist(", stage, ", \"", names,
                                           "\") failed; the MTA sends its default macros"));
    }
    return n;
}

sfsistat Filter::connect(Session& s, MilterContext& mc, const char* hostname,
                         const sockaddr* addr) {
    s.connected = true;
    s.client_name = client_name_of(hostname);
    s.client_addr = address_text(addr);
    s.mta_name = mc.macro("j");
    s.daemon_name = mc.macro("{daemon_name}");
    s.if_addr = mc.macro("{if_addr}");
    metrics::get("milter-connections").inc();
    log::info("connect from " + s.client());
    if (log::enabled(log::Level::debug))
        log::debug(log::cat("connect from ", s.client(), ": mta=", s.mta_name, " daemon=",
                            s.daemon_name, " if_addr=", s.if_addr, " _=", mc.macro("_"),
                            " checks=", s.checks ? "yes" : "no"));
    if (context_.draining()) {
        log::info("reject: CONNECT from " + s.client() + ": mppd is stopping; tempfail");
        if (!mc.set_reply("421", "4.3.2", "Mail filter shutting down, try again later"))
            action_failed("", "smfi_setreply failed for the shutdown reply");
        return SMFIS_TEMPFAIL;
    }
    return blocked_at_connect(s, mc) ? SMFIS_REJECT : SMFIS_CONTINUE;
}

// A client on the global block list, refused at connect (<milter block-at-connect>); blocks
// of one group need the recipient and wait for RCPT.
bool Filter::blocked_at_connect(const Session& s, MilterContext& mc) {
    if (!s.checks || !s.config->milter.block_at_connect) return false;
    const auto checks = context_.checks();
    const auto ip = IpAddr::parse(s.client_addr);
    if (!checks || !ip) return false;
    const auto hit = checks->state().blocks.find(*ip, "");
    if (!hit || !hit->scope.empty()) return false;
    log::info(log::cat("reject: CONNECT from ", s.client(), ": client blocked: ", hit->reason,
                       ", ", hit->left.count(), "s left (global)"));
    metrics::get("milter-blocked-at-connect").inc();
    if (!mc.set_reply("554", "5.7.1", reply_text("Client blocked: " + hit->reason, "")))
        action_failed("", "smfi_setreply failed for the blocked-client reply");
    return true;
}

sfsistat Filter::helo(Session& s, const char* name) {
    s.helo = name ? name : "";
    return no_reply(s, SMFIP_NR_HELO);
}

sfsistat Filter::mail(Session& s, MilterContext& mc, char** argv) {
    if (s.message) log_summary(s, *s.message, "abort");  // a transaction never closed
    auto m = std::make_unique<Message>();
    m->id = context_.next_message_id();
    m->sender = strip_brackets(argv ? argv[0] : nullptr);
    m->queue_id = mc.macro("i");
    m->sasl_username = mc.macro("{auth_authen}");
    m->declared_size = declared_size(argv);
    s.message = std::move(m);
    return SMFIS_CONTINUE;
}

sfsistat Filter::rcpt(Session& s, MilterContext& mc, char** argv) {
    if (!s.message) {  // libmilter sends no RCPT without MAIL; be safe anyway
        s.message = std::make_unique<Message>();
        s.message->id = context_.next_message_id();
    }
    Message& m = *s.message;
    if (std::string qid = mc.macro("i"); !qid.empty()) m.queue_id = qid;
    const std::string recipient = strip_brackets(argv ? argv[0] : nullptr);
    if (s.content && m.recipients.size() >= Message::kMaxRecipients) {
        ++m.refused;
        if (!mc.set_reply("452", "4.5.3", "Too many recipients"))
            action_failed(m.queue_id, "smfi_setreply failed for the too-many-recipients reply");
        return SMFIS_TEMPFAIL;
    }
    if (!s.checks) {
        ++m.accepted;
        if (m.recipients.size() < Message::kMaxRecipients) {
            m.recipients.push_back(recipient);
            m.rbl.emplace_back();
        }
        return no_reply(s, SMFIP_NR_RCPT);
    }
    auto checks = context_.checks();
    if (!checks) {
        ++m.refused;
        log::write_qid(log::Level::warning, m.queue_id,
                       log::cat("client=", s.client(), " from=<", m.sender, "> to=<", recipient,
                                "> action=defer reason=\"the checks are not ready yet\""));
        if (!mc.set_reply("451", "4.3.0", "Mail filter starting, try again later"))
            action_failed(m.queue_id, "smfi_setreply failed for the not-ready reply");
        return SMFIS_TEMPFAIL;
    }
    const policy::Verdict v = checks->evaluate(transaction_for(s, m, recipient));
    const RcptReply r = reply_for(v);
    if (r.kind == RcptReply::Kind::pass) {
        ++m.accepted;
        if (m.recipients.size() < Message::kMaxRecipients) {
            m.recipients.push_back(recipient);
            m.rbl.push_back({v.score, v.checks});
        }
        for (const auto& h : v.prepend)
            if (!m.add_header(h) && log::enabled(log::Level::debug))
                log::write_qid(log::Level::debug, m.queue_id,
                               "milter: header not added again or over the bound: " + h);
        return SMFIS_CONTINUE;
    }
    ++m.refused;
    if (!mc.set_reply(r.code, r.dsn, r.text))
        action_failed(m.queue_id, log::cat("smfi_setreply(", r.code, " ", r.dsn,
                                           ") failed for <", recipient,
                                           ">: the MTA answers with its default text"));
    return r.kind == RcptReply::Kind::reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

MessageBuffer& Filter::buffer_of(const Session& s, Message& m) {
    if (!m.buffer) {
        m.buffer.emplace(s.config->store.spool, MessageBuffer::limits_from(*s.config));
        m.buffer->set_queue_id(m.queue_id);
    }
    return *m.buffer;
}

sfsistat Filter::refuse(Session& s, MilterContext& mc, const RcptReply& r,
                        std::string_view reason) {
    Message& m = *s.message;
    const char* action = r.kind == RcptReply::Kind::reject ? "reject" : "defer";
    if (!mc.set_reply(r.code, r.dsn, r.text))
        action_failed(m.queue_id, log::cat("smfi_setreply(", r.code, " ", r.dsn,
                                           ") failed: the MTA answers with its default text"));
    log_summary(s, m, action, reason);
    metrics::get("milter-messages").inc();
    s.message.reset();
    return r.kind == RcptReply::Kind::reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

sfsistat Filter::buffer_refused(Session& s, MilterContext& mc) {
    const MessageBuffer& b = *s.message->buffer;
    RcptReply r;
    switch (b.state()) {
        case MessageBuffer::State::too_big:
            r = {RcptReply::Kind::reject, "552", "5.3.4",
                 "Message size exceeds fixed maximum message size"};
            break;
        case MessageBuffer::State::header_limit:
            r = {RcptReply::Kind::reject, "554", "5.6.0",
                 "Message header exceeds the limits of this server"};
            break;
        case MessageBuffer::State::error:
        case MessageBuffer::State::ok:
            if (b.error_code() == ENOSPC)
                r = {RcptReply::Kind::tempfail, "452", "4.3.1", "Insufficient system storage"};
            else
                r = {RcptReply::Kind::tempfail, "451", "4.3.0",
                     "Temporary failure in the mail filter, try again later"};
            break;
    }
    return refuse(s, mc, r, b.error());
}

sfsistat Filter::header(Session& s, MilterContext& mc, const char* name, const char* value) {
    if (!s.message) return no_reply(s, SMFIP_NR_HDR);
    Message& m = *s.message;
    m.size += std::strlen(name ? name : "") + 2 + std::strlen(value ? value : "") + 2;
    if (s.content && !buffer_of(s, m).add_header(name ? name : "", value ? value : ""))
        return buffer_refused(s, mc);
    return no_reply(s, SMFIP_NR_HDR);
}

sfsistat Filter::body(Session& s, MilterContext& mc, std::string_view chunk) {
    if (!s.message) return no_reply(s, SMFIP_NR_BODY);
    Message& m = *s.message;
    m.size += chunk.size();
    if (s.content && !buffer_of(s, m).add_body(chunk)) return buffer_refused(s, mc);
    return no_reply(s, SMFIP_NR_BODY);
}

void Filter::add_headers(const Session& s, const Message& m, MilterContext& mc) {
    if (m.headers.empty()) return;
    if (!(s.actions & SMFIF_ADDHDRS)) {
        action_failed(m.queue_id, log::cat("the MTA does not let filters add headers: ",
                                           m.headers.size(), " header(s) not added"));
        return;
    }
    int index = 0;  // on top, in the order the checks gave them (as Postfix's PREPEND)
    for (const auto& line : m.headers) {
        auto h = split_header(line);
        if (!h) {
            action_failed(m.queue_id, "not a header line, not added: " + line);
            continue;
        }
        if (mc.insert_header(index, h->first, h->second))
            ++index;
        else
            action_failed(m.queue_id, "smfi_insheader failed; the message goes on without " +
                                          h->first);
    }
}

sfsistat Filter::eom(Session& s, MilterContext& mc) {
    if (!s.message) return SMFIS_CONTINUE;
    Message& m = *s.message;
    if (std::string qid = mc.macro("i"); !qid.empty()) m.queue_id = qid;
    if (s.content) {
        MessageBuffer& b = buffer_of(s, m);
        b.set_queue_id(m.queue_id);
        if (!b.ok()) return buffer_refused(s, mc);
    }
    std::optional<ContentDecision> content;
    if (s.content && any_content_checks(*s.config)) {
        content = decide(s, m);
        m.groups = content->group_names();
        add_check(m, content->checks());
        if (content->kind != ContentDecision::Kind::accept)
            return refuse_by_content(s, mc, *content);
    } else {
        m.groups = group_names(s, m);
    }
    if (auto r = end_of_message_checks(s, m, mc)) return *r;
    if (content && !apply_content(s, m, mc, *content))
        return refuse(s, mc,
                      {RcptReply::Kind::tempfail, "451", "4.3.0",
                       "Temporary failure in the mail filter, try again later"},
                      "the quarantine copy could not be stored");
    add_headers(s, m, mc);
    log_summary(s, m, "accept");
    metrics::get("milter-messages").inc();
    s.message.reset();
    return SMFIS_CONTINUE;
}

std::optional<sfsistat> Filter::end_of_message_checks(Session& s, Message& m,
                                                     MilterContext& mc) {
    if (!s.eom_checks || m.recipients.empty()) return std::nullopt;
    auto checks = context_.checks();
    if (!checks)
        return refuse(s, mc,
                      {RcptReply::Kind::tempfail, "451", "4.3.0",
                       "Mail filter starting, try again later"},
                      "the checks are not ready yet");
    policy::Transaction t = transaction_for(s, m, m.recipients.front());
    t.stage = policy::Stage::end_of_message;
    t.recipient_count = static_cast<unsigned>(m.recipients.size());
    t.size = m.buffer ? m.buffer->size() : m.size;
    if (m.buffer)  // the first Subject field, decoded (policy/subject_key.h keys on it)
        for (const auto& h : m.buffer->headers())
            if (strcasecmp(h.name.c_str(), "Subject") == 0) {
                t.subject = engines::decode_value(h.value);
                break;
            }
    const policy::Verdict v = checks->evaluate(t);
    const RcptReply r = reply_for(v);
    if (r.kind != RcptReply::Kind::pass) {
        add_check(m, v.check);
        return refuse(s, mc, r, v.reason);
    }
    if (v.action != policy::Action::none && !v.shadow) add_check(m, v.check);
    for (const auto& h : v.prepend)
        if (!m.add_header(h) && log::enabled(log::Level::debug))
            log::write_qid(log::Level::debug, m.queue_id,
                           "milter: header not added again or over the bound: " + h);
    return std::nullopt;
}

std::string Filter::group_names(const Session& s, const Message& m) {
    std::vector<const config::GroupCfg*> seen;
    std::string out;
    for (const auto& r : m.recipients) {
        const policy::Transaction t = transaction_for(s, m, r);
        const auto& g = policy::resolve_group(*s.config, t, policy::direction_of(*s.config, t));
        if (std::find(seen.begin(), seen.end(), &g) != seen.end()) continue;
        seen.push_back(&g);
        if (!out.empty()) out += ',';
        out += g.name;
    }
    return out;
}

sfsistat Filter::abort(Session& s) {
    if (s.message) {
        const Message& m = *s.message;
        log_summary(s, m, m.accepted == 0 && m.refused > 0 ? "refused" : "abort");
        s.message.reset();
    }
    return SMFIS_CONTINUE;
}

void Filter::close(Session& s) {
    abort(s);
    if (s.connected) log::info("disconnect from " + s.client());
}

}  // namespace mpp::milter
