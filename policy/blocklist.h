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
// Persistence (snapshot + journal) is the state-table work of the greylist; not done here.
#pragma once

#include <chrono>
#include <cstddef>
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

private:
    struct Entry {
        std::chrono::steady_clock::time_point until;
        BlockSource source;
        std::string reason;
    };
    using Key = std::pair<std::string, IpAddr>;

    void erase_locked(std::map<Key, Entry>::iterator it);
    void purge_locked(std::chrono::steady_clock::time_point now);

    Clock& clock_;
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::map<Key, Entry> entries_;
    std::set<std::pair<std::chrono::steady_clock::time_point, Key>> by_expiry_;
};

}  // namespace mpp::policy
