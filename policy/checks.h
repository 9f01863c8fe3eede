// policy/checks.h: the SMTP-level checks assembled for the daemon: one Engine (policy/engine.h)
// with its state tables (block list, thresholds) and the greylist (policy/greylist.h) plugged
// into its greylisting seam, the greylist persisted in the state directory, and the alert mail
// sender (policy/alerts.h) plugged into its alert seam.
//
// Owns: the real clock, EngineState, Greylist (+ its FileGreylistStore), Engine. Both front
// ends call evaluate(): the policy server from the main event loop, the milter (later) from
// libmilter's workers; every part is thread-safe (see each unit).
// Reload: set_config() gives the engine the new snapshot; the tables keep their state; alert
// mail follows the engine's current snapshot.
// RBLs: the RblChecker (policy/rbl.h) in the engine's RBL seam asks a dns::Resolver (lib/dns.h)
// made from <dns>; a reload with a changed <dns> makes a new resolver (lookups in flight finish
// on the old one). Engine calls wait for DNS answers up to the RBL timeouts (see rbl.h).
// Alerts: the AlertSender (owned here) mails threshold crossings from a thread of its own;
// close() stops it (after at most its short close wait).
// Persistence: the greylist, the block list and the threshold counters are loaded from
// `state_dir` at construction (a damaged file is reported and set aside, never fatal: see
// greylist_store.h and table_snapshots.h). Every `maintain_every` a thread of its own (never
// the event loop that answers requests: a scan of a large table, an fsync or a compaction would
// stall every answer) expires greylist entries, compacts and syncs, and saves the block list and
// thresholds when they changed; close() stops that thread and does both once more (also from
// the destructor). An empty state_dir keeps the tables in memory only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "lib/clock.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "policy/alerts.h"
#include "policy/engine.h"
#include "policy/greylist.h"
#include "policy/rbl.h"
#include "policy/table_snapshots.h"
#include "policy/transaction.h"
#include "policy/verdict.h"

namespace mpp::policy {

class Checks {
public:
    Checks(std::shared_ptr<const config::Config> config, const std::string& state_dir,
           std::chrono::seconds maintain_every = std::chrono::seconds(10));
    ~Checks();
    Checks(const Checks&) = delete;
    Checks& operator=(const Checks&) = delete;

    Verdict evaluate(const Transaction& t) { return engine_.evaluate(t); }
    Explanation explain(const Transaction& t) const { return engine_.explain(t); }
    void set_config(std::shared_ptr<const config::Config> config);
    // Stops the maintenance thread and writes the tables' last changes; idempotent.
    void close();

    Engine& engine() { return engine_; }
    Greylist& greylist() { return greylist_; }
    AlertSender& alerts() { return alerts_; }
    EngineState& state() { return state_; }

private:
    std::shared_ptr<dns::Resolver> resolver() const;
    void set_resolver(const config::DnsCfg&);

    SystemClock clock_;
    EngineState state_;
    Greylist greylist_;
    AlertSender alerts_;  // before engine_, whose alert hook it is
    mutable std::mutex resolver_mutex_;
    std::shared_ptr<dns::Resolver> resolver_;  // null when it could not start (lookups: error)
    std::optional<config::DnsCfg> resolver_cfg_;
    RblChecker rbl_;  // before engine_, whose RBL hook it is
    Engine engine_;
    TableSnapshots snapshots_;  // block list and thresholds in state_dir

    std::mutex maintain_mutex_;
    std::condition_variable maintain_wake_;
    bool closing_ = false;
    std::thread maintainer_;
};

}  // namespace mpp::policy
