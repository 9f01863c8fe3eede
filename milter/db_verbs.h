// milter/db_verbs.h: the control-socket verbs of the database store:
//   db upgrade                 apply the schema versions the database lacks; print the version
//   db version                 the database's schema version and this mppd's
//   purge --older-than DURATION [--only quarantine|archive|tracking]
//                              delete entries and tracking rows received before now - DURATION
// (docs/mppctl.8 describes them). Without <store database>, each answers ERR saying so.
//
// Owns: nothing but the verb table; each call reads the current configuration snapshot and
// opens its own database connection (closed when the call returns).
// Threads: the handlers run on the main event loop (ControlServer), which they hold for the
// call: a connection attempt is bounded by <store database-timeout>, purge by kPurgeBudget
// (it then stops between batches and says that older rows remain; running it again goes on).
// Limits: purge refuses a DURATION under kMinPurgeAge (a typo must not empty the quarantine).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lib/clock.h"
#include "lib/config_holder.h"
#include "milter/control_server.h"

namespace mpp::milter {

inline constexpr std::chrono::seconds kPurgeBudget{10};
inline constexpr std::chrono::seconds kMinPurgeAge{3600};

struct DbVerb {
    std::string verb;
    std::string usage;  // one line for `help`
    ControlServer::Handler handler;
};

// The verbs over the configuration in `holder` (also what the unit tests call directly).
// `clock` gives "now" for purge's cutoff. Both must outlive the verbs.
std::vector<DbVerb> db_verbs(const config::ConfigHolder& holder, const Clock& clock);

// Adds db_verbs(holder, a system clock) to `server`.
void register_db_verbs(ControlServer& server, const config::ConfigHolder& holder);

}  // namespace mpp::milter
