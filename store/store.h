// store/store.h: the store as the daemon sees it: the spool every quarantine and archive copy
// goes through, the drainer that moves it on to its target, the admin queries, release, and
// the local tracking log. One object, owned by the daemon.
//
// Owns: the Spool (<store spool>), the Drainer and its thread, the target (shared with the
// query side when it is the maildir store), the tracking log when there is one, the set of
// uuids released recently.
// Threads: put(), quarantine(), track() and released() are called from libmilter workers;
// release(), query() and status() from the control verbs on the main loop; set_config() on
// reload. All are thread-safe.
// The milter's use (end of message, after the decision):
//   store::Entry e = ...;   // uuid empty: the store makes one
//   std::string why = store.quarantine(e, open_reader);  // "" once durable in the spool
//   if (!why.empty()) -> tempfail (451 4.3.0; 452 4.3.1 when store.put() says Status::full)
// put()/quarantine() return only after the entry is fsynced in spool/new (store/spool.h):
// then the MTA may hear accept. The drainer writes it to maildir or MariaDB afterwards.
// Released mail: release() sends the original with "X-MPP-Released: UUID" before it;
// released(UUID) is true for kReleasedFor after that (kMaxReleased uuids at most, oldest
// dropped first), so the milter can let such a message pass unquarantined while a forged
// header (an unknown uuid) gets no such favour. Not kept across restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engines/scanner.h"
#include "lib/config.h"
#include "store/drainer.h"
#include "store/query.h"
#include "store/release.h"
#include "store/spool.h"
#include "store/target.h"
#include "store/tracking.h"
#include "store/tracking_log.h"

namespace mpp::store {

class Store {
public:
    static constexpr std::chrono::hours kReleasedFor{7 * 24};
    static constexpr std::size_t kMaxReleased = 10000;

    // Makes the Query the admin verbs use (one per call; the maildir store hands out itself).
    using QueryFactory = std::function<std::shared_ptr<Query>(std::string* error)>;

    struct Settings {
        std::string spool_dir;
        Spool::Limits limits;
        Drainer::Settings drain;
        ReleaseSettings release;
        std::string tracking_log;  // "": no local tracking log
        bool tracking_full = false;
    };
    // From <store> and <daemon state-dir>.
    static Settings settings_from(const config::Config& cfg);

    // Opens the spool (recovering what a crash left) and the tracking log, and starts the
    // drainer. nullptr and *error when the spool or the log can't be opened.
    static std::unique_ptr<Store> open(Settings settings, std::shared_ptr<Target> target,
                                       QueryFactory query, std::string* error);
    // The embedded default: the maildir store of <store maildir> with its index in
    // STATE-DIR/maildir.index as target and query.
    static std::unique_ptr<Store> open_maildir(const config::Config& cfg, std::string* error);

    ~Store();  // stops the drainer
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Durable in the spool before it returns (see store/spool.h), then the drainer is woken.
    PutResult put(Entry entry, engines::MessageReader& message);
    // The milter's hook (milter::FilterContext::Quarantine): "" once durable, else why not.
    std::string quarantine(const Entry& entry,
                           const std::function<std::unique_ptr<engines::MessageReader>()>& open);
    // A tracking record to the local log (nothing when there is none).
    void track(const TrackingRecord& record);

    ReleaseResult release(const ReleaseRequest& request);
    bool released(std::string_view uuid) const;

    std::shared_ptr<Query> query(std::string* error) const;
    // "spool: N entries, B bytes", "drain: maildir ok|failing: ERROR".
    std::vector<std::string> status() const;

    // A reload: new spool bounds, release and tracking settings (the spool directory, the
    // target and the tracking file stay until a restart).
    void set_config(const config::Config& cfg);

    Spool& spool() { return *spool_; }
    Drainer& drainer() { return *drainer_; }

    struct Private {};
    Store(Private, Settings settings);

private:
    mutable std::mutex mutex_;
    Settings settings_;
    std::unique_ptr<Spool> spool_;
    std::shared_ptr<Target> target_;
    QueryFactory query_;
    std::unique_ptr<Drainer> drainer_;
    std::unique_ptr<TrackingLog> tracking_;
    std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> released_;
};

}  // namespace mpp::store
