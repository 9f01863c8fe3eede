// milter/store_verbs.h: the control-socket verbs of the store (store/store.h):
//   quarantine list [--rcpt ADDR|@DOMAIN] [--domain DOMAIN] [--from ADDR|@DOMAIN|<>]
//                   [--subject TEXT] [--since WHEN] [--until WHEN] [--kind quarantine|archive]
//                   [--limit N]
//   quarantine show ID          metadata, one line per recipient, then the message's header
//   quarantine release ID [--rcpt ADDR]... [--to ADDR]
//   quarantine delete ID [--rcpt ADDR]
//   store                       the spool's backlog and the drain target's state
// WHEN is a date (2026-03-01, midnight UTC), a time (2026-03-01T10:00:00Z) or a duration
// back from now (7d, 12h). The same verbs work over the maildir store and MariaDB (whichever
// store::Query the Store hands out). docs/mppctl.8 describes each and its output.
//
// Owns: nothing but the verb table; the handlers keep a reference to the Store, which must
// outlive the control server's use of them (the daemon resets the control server first).
// Threads: the handlers run on the main event loop and hold it for the call: list and show are
// bounded by their limits, release by the store's release timeout (20s), delete by a few file
// or database operations.
// Limits: list shows kDefaultStoreListLimit rows unless --limit (1..kMaxStoreListLimit); show
// prints at most kShowHeaderBytes of the header. A bad argument gets ERR with the usage.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "lib/clock.h"
#include "lib/config.h"
#include "milter/control_server.h"
#include "store/store.h"

namespace mpp::milter {

inline constexpr std::size_t kDefaultStoreListLimit = 100;
inline constexpr std::size_t kMaxStoreListLimit = 10000;
inline constexpr std::size_t kShowHeaderBytes = 64 * 1024;

struct StoreVerb {
    std::string verb;
    std::string usage;  // one line for `help`
    ControlServer::Handler handler;
};

// The verbs over `store` (also what the unit tests call directly); `clock` gives "now" for
// durations in --since/--until. Both must outlive the verbs.
std::vector<StoreVerb> store_verbs(store::Store& store, const Clock& clock);

// Adds store_verbs(store, a system clock) to `server`.
void register_store_verbs(ControlServer& server, store::Store& store);

// The daemon's store for a snapshot: MariaDB when <store database> is set, else the maildir
// store. nullptr and *error when it can't be opened.
std::unique_ptr<store::Store> open_store(const config::Config& cfg, std::string* error);

}  // namespace mpp::milter
