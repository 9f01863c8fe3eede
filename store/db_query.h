// store/db_query.h: the admin queries over the MariaDB store (store/query.h), and purge.
//
// Owns: one Db connection (its own; the drainer's is not shared). Threads: one at a time (the
// control verbs run on the main event loop; each verb call makes its own DbQuery).
// Queries: list() reads entry_rcpt only, through its (kind, rcpt_domain|rcpt_key|sender_key,
// received) indexes, newest first; show() and fetch() find the entry by its UNIQUE uuid; the
// message is streamed one entry_body chunk at a time (memory: one chunk). Every value goes
// through a placeholder; LIKE patterns from input have % _ and \ escaped.
// Purge: entries in batches of at most kPurgeBatch (and kPurgeBatchBytes of message) per
// transaction, tracking rows kTrackingBatch per DELETE ... LIMIT, so no lock is held long;
// it stops at `deadline` and says whether rows older than the cutoff remain.
// Failures: nullopt/false and *error (the Db's text); a connection lost mid-way is reported,
// not retried (the admin runs the verb again).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "store/db.h"
#include "store/query.h"

namespace mpp::store {

class DbQuery final : public Query {
public:
    explicit DbQuery(DbSettings settings) : db_(std::move(settings)) {}

    std::optional<std::vector<Listed>> list(const Filter& filter, std::string* error) override;
    std::optional<Stored> show(const std::string& uuid, std::string* error) override;
    bool fetch(const std::string& uuid, const std::function<bool(std::string_view)>& sink,
               std::string* error) override;
    std::optional<Removed> remove(const std::string& uuid, const std::string& recipient,
                                  std::string* error) override;
    bool mark_released(const std::string& uuid, const std::string& recipient,
                       std::string* error) override;

    Db& db() { return db_; }

private:
    // The entry's id and stored size; nullopt with *error empty when there is none.
    struct Found {
        std::uint64_t id = 0;
        std::uint64_t body_size = 0;
        std::uint64_t body_chunks = 0;
    };
    std::optional<Found> find(const std::string& uuid, bool for_update, std::string* error);
    Db db_;
};

inline constexpr std::size_t kPurgeBatch = 100;
inline constexpr std::uint64_t kPurgeBatchBytes = 64ULL * 1024 * 1024;
inline constexpr std::size_t kTrackingBatch = 2000;

struct PurgeWhat {
    bool quarantine = true;
    bool archive = true;
    bool tracking = true;
};

struct PurgeResult {
    std::uint64_t quarantine = 0;  // entries deleted (with their recipients and messages)
    std::uint64_t archive = 0;
    std::uint64_t tracking = 0;  // tracking rows deleted
    bool complete = true;  // false: the deadline came first; older rows remain
};

// Deletes what was received before `cutoff` (Unix seconds).
std::optional<PurgeResult> purge(Db& db, std::int64_t cutoff, PurgeWhat what,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::string* error);

}  // namespace mpp::store
