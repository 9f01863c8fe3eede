// policy/threshold.h: rate thresholds with auto-blacklisting (<threshold> in a group): per key
// (client address, SASL user or sender), messages (or recipients, or bytes) and spams in a
// sliding window; a key over a rule gets the rule's action for block-for.
//
// Owns: the counter table, keyed by (group name, rule name, key value). It lives outside the
// config snapshot, so a reload keeps the counters of every rule whose group and name it keeps; a
// rule whose period changes starts its windows again.
// Threads: every member is thread-safe (one mutex); called from the policy event loop, the
// libmilter worker threads and the content stage (record_spam) at once.
// Counting:
//   - a message is counted once, at its first RCPT (key="subject": at END-OF-MESSAGE), per rule: `message_id` (the policy
//     protocol's instance, else the queue id) identifies it, so one message to 5 recipients
//     counts 1; later recipients of the same message get the first recipient's decision. An
//     empty message_id counts every call.
//   - units: a rule counts one of messages (1 per message, at its first RCPT), recipients (the
//     message's recipient count) or size (its bytes, kept in KiB rounded up); the last two are
//     known only when the message has ended, so they are counted at END-OF-MESSAGE (Postfix:
//     check_policy_service in smtpd_end_of_data_restrictions; the milter at end-of-message).
//     At RCPT such a rule only looks whether the key is blocked (amount 0): a key that crossed
//     it is refused at RCPT for block-for. threshold_amount() says what a transaction adds.
//   - crossing: with a unit limit U and `spams` = S (0: not counted), the message whose amount
//     would take the window above U, while the window holds at least S spams, crosses and gets
//     the action (messages=60: 60 messages pass in any period, the 61st crosses; size=100M: the
//     message that would make it more than 100 MiB), and the key keeps the action for
//     block-for (0: only while the window is over). A refused message (block, defer) is not
//     counted; while a key is blocked nothing is counted.
//   - spams come from the content stage through record_spam(), deduplicated per message too;
//     a key over its spam count is caught at its next message.
// Window precision: each key has a ring of at most kBuckets counts of width period/kBuckets
// (at least 1 s, rounded up). A count leaves the window between period - width and
// period + width after it was made; for periods up to kBuckets seconds the window is exact to
// the second (counted at t, gone at t + period).
// Limits: at most max_keys entries; a new key in a full table evicts the least recently used
// entry, counted in the metric "threshold-evictions". Time is the steady clock; bucket numbers
// count from an origin 2^32 s before its zero, so they stay positive when a window saved before
// a reboot (steady clock near zero) is restored.
// Persistence: export_state()/import_state() give and take the live entries with wall-clock
// bucket times and block deadlines; policy/table_snapshots.h writes them to
// STATE-DIR/thresholds.state whenever version() moved since its last save. A restored window
// keeps its counts and lets them go when they would have gone (its bucket edges may move by up
// to half a bucket width, none for whole seconds and periods up to kBuckets seconds); the
// per-message deduplication (message_id) starts afresh.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "policy/transaction.h"

namespace mpp::policy {

// The key a rule counts for this transaction: the client address, the SASL user, or the sender
// (lower case; "<>" for the null sender), or the subject key (policy/subject_key.h) of
// Transaction::subject. nullopt when the rule does not apply: no IP client, no SASL login, no
// subject (or a blank one: subjectless messages are not counted together).
std::optional<std::string> threshold_key(const config::ThresholdCfg&, const Transaction&);

enum class ThresholdUnit { messages, recipients, kilobytes };
ThresholdUnit threshold_unit(const config::ThresholdCfg&);
const char* unit_name(ThresholdUnit);  // "messages", "recipients", "KiB"
// The rule's limit in its unit (size in KiB, rounded up); 0 for a spams-only rule.
std::uint64_t unit_limit(const config::ThresholdCfg&);
// What `t` adds to the rule's window at its stage: 1 for a message at RCPT; recipients and
// KiB at END-OF-MESSAGE; 0 at RCPT for those (look only: is the key blocked?), and for a size
// rule when the size is unknown. A key="subject" rule is known only at END-OF-MESSAGE (the
// milter's content stage): there it adds its unit (1 message, the recipients, the KiB), at RCPT
// nothing. nullopt: the rule is not looked at in this stage.
std::optional<std::uint64_t> threshold_amount(const config::ThresholdCfg&, const Transaction&);

struct ThresholdDecision {
    bool over = false;     // the action applies to this message
    bool crossing = false;  // it crossed just now (a new block: the moment to alert once)
    bool counted = false;   // this call counted the message
    long messages = 0;      // units in the window before this message (see threshold_unit)
    long spams = 0;
    std::chrono::seconds left{0};  // of the block, when blocked
};

// One row of `mppctl thresholds`.
struct ThresholdRow {
    std::string group;
    std::string rule;
    std::string key;
    long messages = 0;
    long spams = 0;
    std::chrono::seconds blocked_left{0};
};

// One entry as it is saved across a restart.
struct ThresholdState {
    std::string group, rule, key;
    std::int64_t width = 0;    // seconds per bucket
    std::int64_t buckets = 0;  // buckets in the window, 1..Thresholds::kBuckets
    std::chrono::system_clock::time_point head_start;  // wall time the newest bucket began
    std::vector<std::uint32_t> messages, spams;       // per bucket, oldest first; `buckets` each
    std::chrono::system_clock::time_point blocked_until{};  // wall clock; the epoch: not blocked
};

class Thresholds {
public:
    static constexpr std::size_t kDefaultMaxKeys = 100000;
    static constexpr std::int64_t kBuckets = 32;

    explicit Thresholds(Clock& clock, std::size_t max_keys = kDefaultMaxKeys);

    // Decides (and, unless dry_run, counts) one message of `key` under `rule` of `group`,
    // adding `amount` units (threshold_amount(); 0 only looks whether the key is blocked).
    // dry_run changes nothing (mppctl explain).
    ThresholdDecision check(const std::string& group, const config::ThresholdCfg& rule,
                            const std::string& key, const std::string& message_id,
                            bool dry_run = false, std::uint64_t amount = 1);

    // From the content stage: one spam of `key`; counted once per message_id (when not empty).
    void record_spam(const std::string& group, const config::ThresholdCfg& rule,
                     const std::string& key, const std::string& message_id);

    // Live entries (counts in their windows, or blocked), sorted by group, rule, key.
    std::vector<ThresholdRow> list() const;
    std::size_t size() const;

    // Persistence. version() changes with every counted message, spam or block.
    std::uint64_t version() const;
    // Hands each live entry (counts in its window, or blocked) to `sink`, most recently used
    // first, under the table's lock (no check waits longer than the sink takes: it must be
    // quick and must not call the table).
    void export_state(const std::function<void(const ThresholdState&)>& sink) const;
    // Adds saved entries (in the order given, as the least recently used so far) to a table
    // that does not hold them yet, until it is full; an entry whose shape is out of range is
    // skipped. `saved_at`: the wall time of the export; when the wall clock now reads earlier,
    // time is counted from it (nothing is counted twice, no block grows). Returns the number of
    // entries taken.
    std::size_t import_state(const std::vector<ThresholdState>&,
                             std::chrono::system_clock::time_point saved_at);

private:
    struct Entry {
        std::array<std::uint32_t, kBuckets> messages{};
        std::array<std::uint32_t, kBuckets> spams{};
        std::int64_t width = 0;   // seconds per bucket
        std::int64_t buckets = 0;  // buckets in the window
        std::int64_t head = 0;    // number of the newest bucket
        std::chrono::steady_clock::time_point until{};  // blocked until
        std::string last_message;
        bool last_over = false;
        std::string last_spam;
        std::string group, rule, key;
        std::list<std::string>::iterator lru;
    };

    Entry* find_locked(const std::string& id);  // a lookup only (LRU order kept)
    Entry& get_locked(const std::string& id, const std::string& group,
                      const config::ThresholdCfg& rule, const std::string& key);
    static void advance(Entry&, const config::ThresholdCfg&, std::int64_t now_s);
    static long sum(const Entry&, const std::array<std::uint32_t, kBuckets>&, std::int64_t now_s);
    std::int64_t now_s() const;
    static std::int64_t steady_ms(std::chrono::steady_clock::time_point);  // from the origin

    Clock& clock_;
    std::size_t max_keys_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // most recently used first
    std::uint64_t version_ = 0;
};

}  // namespace mpp::policy
