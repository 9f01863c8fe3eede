// store/drainer.h: moves spool entries (store/spool.h) to their target (store/target.h: the
// maildir store, or MariaDB) and removes each from the spool once the target has it.
//
// Owns: one thread (start() .. stop()), and the retry state. The Spool and the Target are
// shared with others (the spool with the milter's puts, the maildir store with the control
// verbs); the target is called from this thread only.
// Order: oldest entries first, up to Settings::batch per pass. For each: read it back (format,
// length and checksum checked: a damaged file is set aside to corrupt/), write() it to the
// target, then remove it from the spool. A crash between write and remove writes it again at
// the next start, which the target's idempotence by uuid makes harmless (nothing twice).
// Failures: a target that fails (database down, disk full) keeps the entry in the spool. A pass
// that wrote nothing but had failures backs off exponentially (min_backoff doubling up to
// max_backoff) while the spool keeps growing; the first failure after success logs one warning
// with the error and the backlog, the first success after failures one info line (not one per
// retry). An entry that fails poison_attempts times while other entries are written meanwhile
// is set aside (a poison entry must not stall the queue); when nothing is written, nothing is
// set aside (the target is down, not the entry bad).
// Wake-up: wake() (after a put) starts a pass at once unless backing off; otherwise the thread
// looks at the spool every kIdlePoll.
// Metrics: store-drained, store-drain-errors, store-drain-set-aside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/spool.h"
#include "store/target.h"

namespace mpp::store {

class Drainer {
public:
    static constexpr std::chrono::seconds kIdlePoll{30};
    static constexpr std::size_t kMaxTracked = 10000;  // entries with failures remembered

    struct Settings {
        std::chrono::milliseconds min_backoff{1000};
        std::chrono::milliseconds max_backoff{300000};
        std::size_t batch = 100;
        unsigned poison_attempts = 5;
    };

    Drainer(Spool& spool, std::shared_ptr<Target> target, Settings settings);
    ~Drainer();  // stops the thread
    Drainer(const Drainer&) = delete;
    Drainer& operator=(const Drainer&) = delete;

    void start();
    // Ends the thread after the write in progress (if any) returns.
    void stop();
    void wake();

    // One pass on the caller's thread (the thread's loop; tests).
    struct Pass {
        std::size_t written = 0;
        std::size_t set_aside = 0;
        std::size_t failed = 0;
        std::string error;  // the last failure
    };
    Pass drain_once();

    struct Status {
        bool failing = false;
        std::string error;               // the last failure while failing
        std::uint64_t drained = 0;       // since start
        std::chrono::milliseconds backoff{0};
    };
    Status status() const;
    const char* target_name() const { return target_->name(); }

private:
    void run();
    void note(const Pass& p);

    Spool& spool_;
    std::shared_ptr<Target> target_;
    Settings settings_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool woken_ = false;
    Status status_;
    std::thread thread_;

    // Pass state (the draining thread only).
    std::uint64_t successes_ = 0;
    struct Attempts {
        unsigned failures = 0;
        std::uint64_t successes_before = 0;  // successes_ at the first failure
    };
    std::map<std::string, Attempts> attempts_;
};

}  // namespace mpp::store
