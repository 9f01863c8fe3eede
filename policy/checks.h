// policy/checks.h: the SMTP-level checks assembled for the daemon: one Engine (policy/engine.h)
// with its state tables (block list, thresholds) and the greylist (policy/greylist.h) plugged
// into its greylisting seam, the greylist persisted in the state directory.
//
// Owns: the real clock, EngineState, Greylist (+ its FileGreylistStore), Engine. Both front
// ends call evaluate(): the policy server from the main event loop, the milter (later) from
// libmilter's workers; every part is thread-safe (see each unit).
// Reload: set_config() gives the engine the new snapshot; the tables keep their state.
// Persistence: the greylist is loaded from `state_dir` at construction (a damaged file is
// reported and set aside, never fatal: see greylist_store.h); maintain() (a timer in the
// daemon) expires entries, compacts and syncs; close() syncs once more at stop. An empty
// state_dir keeps the greylist in memory only.
#pragma once

#include <memory>
#include <string>

#include "lib/clock.h"
#include "lib/config.h"
#include "policy/engine.h"
#include "policy/greylist.h"
#include "policy/transaction.h"
#include "policy/verdict.h"

namespace mpp::policy {

class Checks {
public:
    Checks(std::shared_ptr<const config::Config> config, const std::string& state_dir);

    Verdict evaluate(const Transaction& t) { return engine_.evaluate(t); }
    Explanation explain(const Transaction& t) const { return engine_.explain(t); }
    void set_config(std::shared_ptr<const config::Config> config);
    void maintain() { greylist_.maintain(); }

    Engine& engine() { return engine_; }
    Greylist& greylist() { return greylist_; }
    EngineState& state() { return state_; }

private:
    SystemClock clock_;
    EngineState state_;
    Greylist greylist_;
    Engine engine_;
};

}  // namespace mpp::policy
