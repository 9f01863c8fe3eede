// milter/filter.h: what the milter does at each callback, apart from libmilter's C entry points
// (callbacks.cc is a trampoline per callback around these methods), so that it runs in tests
// with a recording MilterContext and a real policy::Checks.
//
// FilterContext is what every connection shares: the config holder, the draining flag of a
// graceful stop, the check engine (set once by the daemon after it is built; until then a
// recipient that should be checked gets 451 4.3.0) and the counter that gives each message
// its id. It is set up before smfi_main serves; afterwards only its atomics change.
// Threads: libmilter's workers, several connections at once; one connection's callbacks never
// overlap (libmilter serialises them), so a Session needs no lock.
// Stages: connect records the client (and tempfails every connection while mppd stops); HELO
// and MAIL FROM record; at RCPT TO, when the session runs the checks (<milter checks>, decided
// at its start), one policy::Transaction per recipient goes to the SAME engine as the policy
// server's, and its Verdict becomes the answer for that recipient only (verdict_reply.h):
// 4xx -> SMFIS_TEMPFAIL, 5xx -> SMFIS_REJECT, each with smfi_setreply; headers of the checks
// (Verdict::prepend) are inserted on top at end-of-message. Every smfi_* action's result is
// checked; a failure is logged and counted (milter-action-errors), and never turns an accepted
// recipient into a refused one.
// Content stage (Session::content: a group has header filters, or the session runs the checks
// and a threshold counts recipients, size or subject): the header fields and body go into the
// message's MessageBuffer (<limits>, spool of <store>); a message that gets too big is refused
// at that callback with 552 5.3.4, one over the header limits with 554 5.6.0, a spool failure
// tempfails it (451 4.3.0; 452 4.3.1 for a full disk). At end-of-message (Session::eom_checks)
// the engine is asked once more with Stage::end_of_message, the first accepted recipient naming
// the group, recipient_count and the buffered size: a refusal there refuses the whole message.
// Logs: the engine's decision line per refused recipient; per message one summary line at
// end-of-message or abort:
//   QUEUEID: client=NAME[ADDR] from=<S> nrcpt=A refused=R size=N [removed=D] [groups=G,...]
//     [checks=C,...] action=ACTION delay=Tms [reason="..."]
// ACTION: accept (end-of-message), reject or defer (the whole message refused by the content
// stage), abort (the client gave up), refused (it gave up after every recipient was refused).
#pragma once

#include <libmilter/mfapi.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engines/scan_runner.h"
#include "lib/config_holder.h"
#include "milter/content_decision.h"
#include "milter/milter_context.h"
#include "milter/session.h"
#include "milter/verdict_reply.h"
#include "policy/checks.h"
#include "policy/transaction.h"
#include "store/entry.h"

namespace mpp::milter {

class FilterContext {
public:
    explicit FilterContext(const config::ConfigHolder* holder);

    const config::ConfigHolder* holder() const { return holder_; }
    void drain() { draining_ = true; }
    bool draining() const { return draining_.load(); }

    // The engine, and whether the policy server serves (for <milter checks="auto">).
    void set_checks(std::shared_ptr<policy::Checks> checks, bool policy_server_serving);
    std::shared_ptr<policy::Checks> checks() const { return checks_.load(); }
    bool policy_server_serving() const { return policy_server_.load(); }

    // The content engines of a snapshot (<spamd>, <clamd>, <command>): built by the factory
    // the daemon sets, once per snapshot, and shared by the connections of that snapshot. No
    // factory (tests of other stages): null, and every engine a <scan> names fails with
    // "no engines".
    using EngineFactory = std::function<std::shared_ptr<engines::EngineSet>(
        const std::shared_ptr<const config::Config>&)>;
    void set_engine_factory(EngineFactory f);
    std::shared_ptr<engines::EngineSet> engines(const std::shared_ptr<const config::Config>&);

    // Stores a quarantine copy of the message for entry.recipients and returns "" once it is
    // durable, else why not. Set by the daemon when a store runs; without one a group's
    // quarantine action rejects instead.
    using Quarantine = std::function<std::string(
        const store::Entry& entry,
        const std::function<std::unique_ptr<engines::MessageReader>()>& open)>;
    void set_quarantine(Quarantine q) { quarantine_ = std::move(q); }
    const Quarantine& quarantine() const { return quarantine_; }

    // "milter.N": unique in this process and across restarts (N starts at the start time in
    // microseconds); the engine keys per-message counting on it (Transaction::instance).
    std::string next_message_id();

private:
    const config::ConfigHolder* holder_;
    std::atomic<bool> draining_{false};
    std::atomic<std::shared_ptr<policy::Checks>> checks_;
    std::atomic<bool> policy_server_{false};
    std::atomic<std::uint64_t> next_id_;
    EngineFactory engine_factory_;
    std::mutex engines_mutex_;
    std::shared_ptr<const config::Config> engines_config_;  // the snapshot engines_ is for
    std::shared_ptr<engines::EngineSet> engines_;
    Quarantine quarantine_;
};

// Whether a group has a threshold the engine counts at end-of-message (recipients, size,
// key="subject"): then a session that runs the checks asks the engine again there.
bool needs_end_of_message_checks(const config::Config&);

// Whether the milter runs the SMTP-level checks: checks="yes", or "auto" without a serving
// policy server.
bool milter_runs_checks(config::MilterChecks mode, bool policy_server_serving);

// What mppd warns at start about where the SMTP-level checks run, "" when nothing is wrong:
// nowhere although groups have them, or in both front ends (double counting), or subject
// thresholds while the milter does not run the checks.
std::string checks_placement_warning(const config::Config& cfg, bool policy_server_serving);

// The transaction the engine sees for `recipient` of the session's current message.
policy::Transaction transaction_for(const Session& s, const Message& m,
                                    const std::string& recipient);

class Filter {
public:
    explicit Filter(FilterContext& context) : context_(context) {}

    // A new connection's state: the current snapshot and whether it runs the checks.
    std::unique_ptr<Session> open_session() const;

    // Actions and protocol steps for the MTA (SMFIF_*, SMFIP_*), from what it offers; asks for
    // the macros through `mc` when the MTA lets the filter choose them.
    struct Negotiated {
        unsigned long actions = 0;
        unsigned long protocol = 0;
    };
    Negotiated negotiate(Session&, MilterContext& mc, unsigned long mta_actions,
                         unsigned long mta_protocol) const;

    sfsistat connect(Session&, MilterContext&, const char* hostname, const sockaddr* addr);
    sfsistat helo(Session&, const char* name);
    sfsistat mail(Session&, MilterContext&, char** argv);
    sfsistat rcpt(Session&, MilterContext&, char** argv);
    sfsistat header(Session&, MilterContext&, const char* name, const char* value);
    sfsistat body(Session&, MilterContext&, std::string_view chunk);
    sfsistat eom(Session&, MilterContext&);
    sfsistat abort(Session&);
    void close(Session&);

private:
    // Whether the client is on the global block list and refused at connect (set_reply done).
    bool blocked_at_connect(const Session&, MilterContext&);
    void add_headers(const Session&, const Message&, MilterContext&);
    // The message's buffer, created on first use (Session::content).
    static MessageBuffer& buffer_of(const Session&, Message&);
    // Refuses the whole message with `r` (set_reply), logs its summary line and frees it.
    sfsistat refuse(Session&, MilterContext&, const RcptReply& r, std::string_view reason);
    // The reply of a buffer that is no longer ok: 552 5.3.4 too big, 554 5.6.0 header limits,
    // 452 4.3.1 disk full, 451 4.3.0 other errors.
    sfsistat buffer_refused(Session&, MilterContext&);
    // The engine at Stage::end_of_message (Session::eom_checks): a refusal of the message, or
    // nullopt to go on.
    std::optional<sfsistat> end_of_message_checks(Session&, Message&, MilterContext&);
    // The content stage (filter_content.cc): runs the engines the recipients' groups name and
    // decides (content_decision.h).
    ContentDecision decide(const Session&, Message&);
    // A content decision that refuses the whole message: the deciding group's reply, or a
    // discard, or a quarantine (then discard); a quarantine that can't be stored tempfails.
    sfsistat refuse_by_content(Session&, MilterContext&, const ContentDecision&);
    // An accepted message: stores the quarantine copy of the recipients whose group
    // quarantines, removes the recipients whose group does not accept (one log line each),
    // queues X-MPP-Status / X-MPP-Score / the tag header, prefixes the subject. False when the
    // quarantine copy could not be stored (nothing was removed: the caller tempfails).
    bool apply_content(const Session&, Message&, MilterContext&, const ContentDecision&);
    // The quarantine copy for `recipients` (indexes into m.recipients); "" when stored.
    std::string quarantine_copy(const Session&, const Message&, const ContentDecision&,
                                const std::vector<std::size_t>& recipients);
    // "default,sales": the groups of the accepted recipients, for the summary line.
    static std::string group_names(const Session&, const Message&);

    FilterContext& context_;
};

}  // namespace mpp::milter
