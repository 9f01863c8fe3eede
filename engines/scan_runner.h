// engines/scan_runner.h: runs a message through the content engines (<spamd>, <clamd>,
// <command>) that a recipient's group names in <scan engines>, in parallel, each within its
// own timeout, a bounded number of calls at once, behind a circuit breaker.
//
// Owns: the engines of one configuration snapshot (built by make_engine_set, or added one by
// one in tests) and their per-engine state: calls in flight, consecutive failures, breaker.
// A reload builds a new set; the old one lives until the last message using it is done
// (shared_ptr), so the breaker starts closed after a reload.
// Threads: run() is called from libmilter worker threads at once; per-engine state is under a
// mutex per engine. run() starts one thread per engine beyond the first and joins them all
// before it returns; every engine call returns by its deadline, so run() returns within the
// longest timeout of the engines asked (plus a wait for a connection slot, bounded by the same
// deadline).
// Per call: a message larger than the engine's max-size is not sent (status skipped, "larger
// than max-size N"). At most `connections` calls of one engine run at once; more wait for a
// slot until their deadline (then error "busy: no connection slot before the timeout").
// Breaker: after `breaker-failures` consecutive errors (0: never) the engine is down: calls
// return error "down since N consecutive failures" at once, without touching it, and one
// warning says so ("warning: engine NAME is down: ..."). After `breaker-retry`, one call goes
// through as the probe: success closes the breaker (one info line "engine NAME is back"),
// failure keeps it open for another breaker-retry. Metrics: engine-calls, engine-errors,
// engine-skipped, engine-breaker-opened.
// Failures: a name not in the set gives error "no such engine" (config validation prevents
// it). What an error means for the message is the caller's (on-error: engines/content_verdict.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <string>
#include <vector>

#include "engines/scanner.h"
#include "lib/clock.h"
#include "lib/config.h"

namespace mpp::engines {

class EngineSet {
public:
    explicit EngineSet(Clock& clock) : clock_(clock) {}
    EngineSet(const EngineSet&) = delete;
    EngineSet& operator=(const EngineSet&) = delete;

    // Adds `engine` under cfg.name, with cfg's limits; `cfg` must outlive the set (it belongs
    // to the configuration snapshot the set was built for).
    void add(const config::EngineCfg& cfg, std::unique_ptr<Engine> engine);
    bool has(const std::string& name) const { return slots_.count(name) > 0; }
    const config::EngineCfg* config_of(const std::string& name) const;

    // Scans `msg` with each engine of `names` (duplicates are run once) in parallel; the
    // results are in the order of `names` without duplicates.
    std::vector<EngineResult> run(const std::vector<std::string>& names, const ScanMessage& msg);

    // Whether the breaker of `name` is open now (mppctl status, tests).
    bool down(const std::string& name) const;

private:
    struct Slot {
        const config::EngineCfg* cfg = nullptr;
        std::unique_ptr<Engine> engine;
        mutable std::mutex mutex;
        std::condition_variable freed;
        int running = 0;
        int failures = 0;                            // consecutive
        bool open = false;                           // breaker
        bool probing = false;                        // the one call let through while open
        std::chrono::steady_clock::time_point retry_at{};
    };
    EngineResult run_one(Slot& slot, const ScanMessage& msg);
    // Whether a call may go to the engine now; fills `out` when not (breaker open).
    bool admit(Slot& slot, EngineResult& out);
    void finish(Slot& slot, const EngineResult& r, const std::string& queue_id);

    Clock& clock_;
    std::map<std::string, std::unique_ptr<Slot>> slots_;
};

}  // namespace mpp::engines
