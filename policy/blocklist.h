// policy/blocklist.h: the auto-blacklist of client addresses: client IP -> blocked until, per
// policy group or global. Spam traps add to it; `mppctl blacklist list|add|delete` reads and edits
// it through the admin rows below.
//
// Owns: a bounded table of entries keyed by (scope, client address). Scope "" is global (every
// group refuses the client); any other scope is the name of the group that refuses it, so a
// renamed group starts clean while a reload that keeps the name keeps its entries. The table
// lives outside the config snapshot and survives reloads.
// Threads: every member is thread-safe (one mutex); called from the policy event loop and from
// libmilter worker threads at once.
// Time: expiry runs on the steady clock (immune to wall-clock steps); wall time is only shown.
// Limits: at most `max_entries` entries; adding to a full table first drops expired entries,
// then evicts the entry that expires soonest, counted in the metric "blocklist-evictions".
// Failures: none reach the caller; a lookup in a table under pressure still answers.
// Persistence: export_state()/import_state() give and take the entries with wall-clock
// deadlines (the steady clock does not survive a restart); policy/table_snapshots.h writes them
// to STATE-DIR/blocklist.state whenever version() moved since its last save.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lib/cidr.h"
#include "lib/clock.h"

namespace mpp::policy {

// Why an entry is there: decides the reply condition (spamtrap or deny).
enum class BlockSource { spamtrap, admin };

struct BlockHit {
    std::string scope;  // "" global, else the group name
    BlockSource source = BlockSource::spamtrap;
    std::string reason;  // "spam trap 12345@example.com", "added by mppctl"
    std::chrono::seconds left{0};
};

// One entry as it is saved across a restart.
struct BlockState {
    IpAddr client;
    std::string scope;
    BlockSource source = BlockSource::spamtrap;
    std::string reason;
    std::chrono::system_clock::time_point until;  // wall clock
};

// One row of `mppctl blacklist list`.
struct BlockRow {
    IpAddr client;
    std::string scope;  // "" global
    BlockSource source = BlockSource::spamtrap;
    std::string reason;
    std::chrono::seconds left{0};
    std::chrono::system_clock::time_point until_wall;
};

class Blocklist {
public:
    static constexpr std::size_t kDefaultMaxEntries = 100000;

    explicit Blocklist(Clock& clock, std::size_t max_entries = kDefaultMaxEntries);

    // Blocks `client` in `scope` for `duration` from now. A block already there is extended when
    // the new one ends later, never shortened. duration <= 0 does nothing.
    void add(const IpAddr& client, const std::string& scope, std::chrono::seconds duration,
             BlockSource source, const std::string& reason);

    // The block that refuses `client` in `group`: a global one first, then the group's own.
    std::optional<BlockHit> find(const IpAddr& client, const std::string& group) const;

    // Admin: removes the entry; scope nullopt removes the client from every scope. Returns the
    // number of entries removed.
    std::size_t remove(const IpAddr& client, const std::optional<std::string>& scope);

    // Admin: live entries sorted by scope, then client.
    std::vector<BlockRow> list() const;

    std::size_t size() const;

    // Persistence. version() changes with every change of the table (never with a lookup).
    std::uint64_t version() const;
    // Hands each live entry, with its wall-clock deadline, to `sink`, under the table's lock (no
    // change waits longer than the sink takes: it must be quick and must not call the table).
    void export_state(const std::function<void(const BlockState&)>& sink) const;
    // Adds saved entries (as add() does: a longer block already there wins). `saved_at` is the
    // wall time the entries were exported: when the wall clock now reads earlier (it went back
    // while the daemon was down) the time left is counted from `saved_at`, so no block grows.
    // Entries already expired are skipped, a deadline past kMaxImported from now is cut to it.
    // Returns the number of entries taken.
    static constexpr std::chrono::hours kMaxImported{24 * 3650};
    std::size_t import_state(const std::vector<BlockState>&,
                             std::chrono::system_clock::time_point saved_at);

private:
    struct Entry {
        std::chrono::steady_clock::time_point until;
        BlockSource source;
        std::string reason;
    };
    using Key = std::pair<std::string, IpAddr>;

    void erase_locked(std::map<Key, Entry>::iterator it);
    void purge_locked(std::chrono::steady_clock::time_point now);
    void add_locked(const Key&, std::chrono::steady_clock::time_point until, BlockSource,
                    const std::string& reason);

    Clock& clock_;
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::map<Key, Entry> entries_;
    std::set<std::pair<std::chrono::steady_clock::time_point, Key>> by_expiry_;
    std::uint64_t version_ = 0;
};

}  // namespace mpp::policy
