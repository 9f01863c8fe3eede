// policy/alerts.h: alert mail for threshold crossings (<alerts>, <threshold alert-to>).
//
// Owns: a bounded queue of alerts waiting to be sent, a thread of its own that sends them one
// at a time (lib/mail_submit.h: the <alerts relay> by SMTP when set, else the <alerts sendmail>
// program), and the rate-limit table: at most one alert per (group, rule, key) per
// <alerts min-interval> (0: no limit).
// Threads: post() is the engine's alert hook (EngineHooks::alert): called on the policy event
// loop and libmilter worker threads at once, it never blocks (one short mutex, no I/O but a
// log line). The sending thread blocks every signal (the main thread's business) and is the
// only one that waits on a program or a relay.
// Config: post() takes the current snapshot (through the Snapshot function) and the alert is
// sent with that snapshot's <alerts>: a reload applies to the next crossing.
// Recipients: the rule's alert-to (the engine fills ThresholdAlert::to with it, else with
// <alerts to>); an empty list falls back to <alerts to> of the snapshot; none at all: not sent.
// The mail: From <alerts from>, To, Subject "mppd: threshold RULE (group G) crossed by KEY",
// Date, Message-ID, Auto-Submitted: auto-generated, a plain-text (US-ASCII) body with group,
// rule, key, action, counts, period, block-for, time and host name. Values from clients (the
// key) are cleaned: bytes outside printable ASCII become '?', and they are cut at 200 bytes.
// Limits: max_queue alerts waiting (a full queue drops the new alert: metric "alerts-dropped"
// and a warning); max_keys rate-limit entries (expired ones are purged first, then the oldest
// is evicted: metric "alerts-rate-evictions"). Each submission is bounded by submit_timeout.
// Logs, one line per alert: "alert: sent to=<A>,<B> rule=R key=K group=G" (info),
// "alert: failed to=<A> rule=R key=K group=G: REASON" (warning), "alert: rate-limited ..."
// (info), "alert: dropped ...: queue full" (warning). Metrics: alerts-sent, alerts-failed,
// alerts-dropped, alerts-rate-limited, alerts-rate-evictions.
// Failures: an alert that fails is logged and not retried (its rate-limit entry stays, so the
// next one for that key goes out after min-interval). Alert mail never affects a verdict.
// Closing: close() lets the thread send what is queued for up to close_wait, then cancels the
// submission in flight (the sendmail child is killed; the SMTP session aborted) and drops the
// rest, logging how many (counted in alerts-dropped); post() after close() drops silently. The
// destructor closes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/mail_submit.h"
#include "policy/engine.h"

namespace mpp::policy {

// Recipients of an alert (see above).
std::vector<std::string> alert_recipients(const ThresholdAlert&, const config::AlertsCfg&);

// The mail of one alert (see above); `hostname` names this machine in the text, `message_id`
// is the Message-ID value without angle brackets.
mail::Message alert_message(const ThresholdAlert&, const config::AlertsCfg&,
                            const std::string& hostname, std::chrono::system_clock::time_point now,
                            const std::string& message_id);

// RFC 5322 date in UTC: "Tue, 01 Aug 2023 10:00:00 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point);

class AlertSender {
public:
    struct Options {
        std::size_t max_queue = 100;
        std::size_t max_keys = 10000;
        std::chrono::milliseconds close_wait{2000};
        std::chrono::milliseconds submit_timeout{30000};  // a sendmail run, an SMTP session
        std::chrono::milliseconds connect_timeout{10000};  // to the relay
        std::string hostname;                              // "": gethostname()
    };
    using Snapshot = std::function<std::shared_ptr<const config::Config>()>;

    AlertSender(Clock& clock, Snapshot snapshot) : AlertSender(clock, std::move(snapshot), {}) {}
    AlertSender(Clock& clock, Snapshot snapshot, Options options);
    ~AlertSender();
    AlertSender(const AlertSender&) = delete;
    AlertSender& operator=(const AlertSender&) = delete;

    // The engine's hook: rate-limits and queues one alert; never blocks, never throws.
    void post(const ThresholdAlert&) noexcept;
    // Stops the sending thread (see above); idempotent.
    void close();

    // Until nothing is queued or being sent; false when `timeout` passed first (tests).
    bool wait_idle(std::chrono::milliseconds timeout);
    std::size_t rate_entries() const;
    const std::string& hostname() const { return hostname_; }

private:
    struct Item {
        ThresholdAlert alert;
        std::shared_ptr<const config::Config> config;
    };
    struct RateEntry {
        std::string id;
        std::chrono::steady_clock::time_point at;
    };

    void run();
    void send(const Item&);
    void purge_locked(std::chrono::steady_clock::time_point now, std::chrono::seconds interval);

    Clock& clock_;
    Snapshot snapshot_;
    Options options_;
    std::string hostname_;
    std::atomic<bool> cancel_{false};
    std::atomic<unsigned long> sequence_{0};

    mutable std::mutex mutex_;
    std::condition_variable wake_;   // the thread: an item or closing
    std::condition_variable idle_;   // wait_idle() and close(): progress of the thread
    std::deque<Item> queue_;
    bool busy_ = false;     // the thread is sending one
    bool closing_ = false;
    bool stopped_ = false;  // the thread left its loop
    std::list<RateEntry> rate_order_;  // oldest first
    std::unordered_map<std::string, std::list<RateEntry>::iterator> rate_;
    std::thread thread_;
};

}  // namespace mpp::policy
