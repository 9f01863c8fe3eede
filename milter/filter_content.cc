// milter/filter_content.cc: the milter's end-of-message content stage (see filter.h): the
// engines the recipients' groups name, run once per message in parallel; the per-group
// verdicts and their combination (content_decision.h); and what the MTA is told: the
// whole-message reply, a discard, a quarantine copy, removed recipients, added headers and the
// subject prefix.
#include <strings.h>

#include <algorithm>
#include <chrono>

#include "engines/header_filter.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "milter/filter.h"
#include "milter/filter_util.h"
#include "policy/groups.h"
#include "policy/lists.h"

namespace mpp::milter {
namespace {

// engines::MessageReader over the message's buffer (CRLF line endings).
class BufferReader final : public engines::MessageReader {
public:
    explicit BufferReader(const MessageBuffer& b) : reader_(b.reader(LineEnding::crlf)) {}
    std::size_t read(char* out, std::size_t n) override { return reader_.read(out, n); }
    bool failed() const override { return reader_.failed(); }
    std::string error() const override { return reader_.error(); }

private:
    MessageBuffer::Reader reader_;
};

// The check= of a decision line: the header filter's own text, else the condition.
std::string check_of(const engines::GroupVerdict& v);

const char* condition_word(config::Condition c) {
    switch (c) {
        case config::Condition::virus: return "virus";
        case config::Condition::score: return "score";
        case config::Condition::limits: return "limits";
        case config::Condition::error: return "engine-error";
        default: return "header-filter";
    }
}

std::string check_of(const engines::GroupVerdict& v) {
    if (v.condition == config::Condition::header_filter) return engines::checks_text(v.filters);
    return condition_word(v.condition);
}

std::string header_value(const std::vector<engines::Header>& headers, const char* name) {
    for (const auto& h : headers)
        if (strcasecmp(h.name.c_str(), name) == 0) return engines::unfold(h.value);
    return "";
}

}  // namespace

void FilterContext::set_engine_factory(EngineFactory f) {
    std::lock_guard lock(engines_mutex_);
    engine_factory_ = std::move(f);
    engines_config_.reset();
    engines_.reset();
}

std::shared_ptr<engines::EngineSet> FilterContext::engines(
    const std::shared_ptr<const config::Config>& cfg) {
    std::lock_guard lock(engines_mutex_);
    if (!engine_factory_) return nullptr;
    if (engines_config_ != cfg) {  // a new snapshot: its own engines (and breakers)
        engines_ = engine_factory_(cfg);
        engines_config_ = cfg;
    }
    return engines_;
}

ContentDecision Filter::decide(const Session& s, Message& m) {
    const config::Config& cfg = *s.config;
    std::vector<RecipientInput> inputs;
    std::vector<std::string> names;  // engines to run: the union over the groups not exempt
    for (std::size_t i = 0; i < m.recipients.size(); ++i) {
        RecipientInput in;
        in.transaction = transaction_for(s, m, m.recipients[i]);
        in.transaction.stage = policy::Stage::end_of_message;
        if (i < m.rbl.size()) {
            in.rbl_score = m.rbl[i].score;
            in.rbl_checks = m.rbl[i].checks;
        }
        const auto& g =
            policy::resolve_group(cfg, in.transaction, policy::direction_of(cfg, in.transaction));
        if (g.scan && g.scan->enabled && !policy::exempt(cfg, g.scan->exempt, in.transaction))
            for (const auto& n : engines::scan_engines(g))
                if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
        inputs.push_back(std::move(in));
    }
    std::vector<engines::EngineResult> results;
    if (!names.empty()) {
        const MessageBuffer& buffer = *m.buffer;
        engines::ScanMessage msg;
        msg.queue_id = m.queue_id;
        msg.size = buffer.size();
        msg.open = [&buffer] { return std::make_unique<BufferReader>(buffer); };
        msg.sender = m.sender;
        msg.recipients = m.recipients;
        msg.client_ip = s.client_addr;
        msg.client_name = s.client_name;
        msg.helo = s.helo;
        if (auto set = context_.engines(s.config)) {
            results = set->run(names, msg);
        } else {
            for (const auto& n : names) {
                engines::EngineResult r;
                r.engine = n;
                r.detail = "no engines";
                results.push_back(r);
            }
        }
    }
    const bool store = static_cast<bool>(context_.quarantine());
    return decide_content(
        cfg, inputs, m.buffer->headers(), results,
        [store](const config::GroupCfg& g) {
            return store && (!g.quarantine || g.quarantine->enabled);
        },
        m.queue_id);
}

std::string Filter::quarantine_copy(const Session& s, const Message& m,
                                    const ContentDecision& d,
                                    const std::vector<std::size_t>& recipients) {
    const auto& quarantine = context_.quarantine();
    if (!quarantine) return "no quarantine store";
    store::Entry e;
    e.kind = store::EntryKind::quarantine;
    e.received = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    e.queue_id = m.queue_id;
    const auto& headers = m.buffer->headers();
    e.message_id = header_value(headers, "Message-ID");
    e.subject = engines::decode_value(header_value(headers, "Subject"));
    e.client_ip = s.client_addr;
    e.client_name = s.client_name;
    e.helo = s.helo;
    e.sender = m.sender;
    e.size = m.buffer->size();
    e.config_revision = s.config->revision;
    e.checks = d.checks();
    for (std::size_t r : recipients) {
        const auto& g = *d.groups[d.group_of[r]].group;
        e.recipients.push_back({m.recipients[r], g.name});
        const auto& v = d.groups[d.group_of[r]].verdict;
        if (e.reason.empty()) e.reason = v.reason;
        if (v.score && *v.score > e.score) e.score = *v.score;
    }
    e.verdict = "quarantine";
    const MessageBuffer& buffer = *m.buffer;
    std::string error =
        quarantine(e, [&buffer] { return std::make_unique<BufferReader>(buffer); });
    if (!error.empty()) {
        metrics::get("quarantine-errors").inc();
        log::write_qid(log::Level::error, m.queue_id,
                       "quarantine copy not stored: " + error + "; the message is tempfailed");
    } else {
        metrics::get("quarantined").inc();
    }
    return error;
}

sfsistat Filter::refuse_by_content(Session& s, MilterContext& mc, const ContentDecision& d) {
    Message& m = *s.message;
    const GroupOutcome& g = d.groups[d.decider];
    const std::string& reason = g.verdict.reason;
    if (d.kind == ContentDecision::Kind::discard || d.kind == ContentDecision::Kind::quarantine) {
        if (d.kind == ContentDecision::Kind::quarantine &&
            !quarantine_copy(s, m, d, d.quarantined).empty())
            return refuse(s, mc,
                          {RcptReply::Kind::tempfail, "451", "4.3.0",
                           "Temporary failure in the mail filter, try again later"},
                          reason + "; the quarantine copy could not be stored");
        log_summary(s, m, d.kind == ContentDecision::Kind::quarantine ? "quarantine" : "discard",
                    reason);
        metrics::get("milter-messages").inc();
        s.message.reset();
        return SMFIS_DISCARD;
    }
    const bool reject = d.kind == ContentDecision::Kind::reject;
    const policy::Transaction t = transaction_for(s, m, m.recipients.at(d.decider_recipient));
    const config::Condition condition = g.verdict.condition;
    policy::Verdict v;
    v.action = reject ? policy::Action::reject : policy::Action::defer;
    v.check = condition_word(condition);
    v.reason = reason;
    const config::ReplyCfg* rc = policy::find_reply(*s.config, *g.group, condition, reject);
    const bool error = condition == config::Condition::error;
    v.code = rc ? rc->code : reject ? 550 : 451;
    v.dsn = rc ? rc->dsn : reject ? "5.7.1" : error ? "4.3.0" : "4.7.1";
    v.text = policy::expand_reply(rc ? rc->text
                                  : reject ? "Message rejected: %REASON%"
                                           : "Please try again later: %REASON%",
                                  t, g.group->name, v.check, reason);
    return refuse(s, mc, reply_for(v), reason);
}

bool Filter::apply_content(const Session& s, Message& m, MilterContext& mc,
                           const ContentDecision& d) {
    if (!d.quarantined.empty() && !quarantine_copy(s, m, d, d.quarantined).empty())
        return false;
    for (std::size_t r : d.removed) {
        const GroupOutcome& g = d.groups[d.group_of[r]];
        const std::string& rcpt = m.recipients[r];
        const bool quarantined =
            std::find(d.quarantined.begin(), d.quarantined.end(), r) != d.quarantined.end();
        const std::string line =
            log::cat("client=", s.client(), " from=<", m.sender, "> to=<", rcpt, "> group=",
                     g.group->name, " check=", check_of(g.verdict),
                     " action=", engines::action_name(g.verdict.action), " reason=\"",
                     g.verdict.reason, "\"");
        if (!(s.actions & SMFIF_DELRCPT) || !mc.delete_recipient("<" + rcpt + ">")) {
            action_failed(m.queue_id, line + ": smfi_delrcpt failed (or the MTA does not allow "
                                             "it); the recipient gets the message");
            continue;
        }
        metrics::get("milter-removed-recipients").inc();
        ++m.removed;
        log::write_qid(log::Level::info, m.queue_id,
                       line + (quarantined ? ": recipient removed, its copy quarantined"
                                           : ": recipient removed, the others get the message"));
    }
    for (const auto& h : d.headers())
        if (!m.add_header(h))
            log::write_qid(log::Level::warning, m.queue_id,
                           "milter: header not added (one of that name already, or over the "
                           "bound): " + h);
    if (!d.subject_prefix.empty()) {
        const std::string subject = header_value(m.buffer->headers(), "Subject");
        if (subject.rfind(d.subject_prefix, 0) != 0) {  // not tagged twice
            const std::string value = d.subject_prefix + (subject.empty() ? "" : " ") + subject;
            if (!(s.actions & SMFIF_CHGHDRS) || !mc.change_header("Subject", 1, value))
                action_failed(m.queue_id, "smfi_chgheader(Subject) failed (or the MTA does not "
                                          "allow it); the subject is not prefixed");
        }
    }
    return true;
}

}  // namespace mpp::milter
