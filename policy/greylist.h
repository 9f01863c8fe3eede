// policy/greylist.h: the greylist: defer the first attempt of each (client network, sender,
// recipient) triplet, pass it when the client retries after `delay` and within `retry-window`.
//
// Rules (times from config::GreylistCfg of the recipient's group):
//   - key: the client address masked to ipv4-prefix/ipv6-prefix, the normalised sender
//     (sender_normalise.h: always lower case; strip-srs, strip-batv, strip-extension and
//     strip-verp switch the other steps) and the lower-cased recipient. Changing a prefix or a
//     strip-* switch changes the keys: the triplets seen before start over. The null sender is keyed as "<>", so
//     bounces are greylisted per (network, recipient) as postgrey does: a real MTA retries them.
//   - first sight: defer (450 4.7.1 "Greylisted, try again in N seconds"); a retry before
//     first_seen + delay: defer with the seconds left; a retry in [first_seen + delay,
//     first_seen + retry-window]: pass, with a prepended "X-MPP-Greylist: delayed N seconds";
//     later the unpassed entry is gone and the triplet starts over.
//   - a passed triplet passes until `expire` after its last pass (each pass refreshes it; the
//     store hears of a refresh once per expire/64, at most hourly, so after a restart an entry
//     may expire up to that much early).
//   - auto-whitelist: after `auto-whitelist` triplets of a client network passed for the first
//     time, the network skips greylisting until `expire` after its last message.
//   - a client without an IP address (nullopt: a local or "unknown" client) is not greylisted.
//   Exempt lists are the engine's business: it does not call check() for an exempt client.
//
// Time (RELIABILITY F14): the table's clock is wall time read once at construction plus the
// steady time elapsed since, in whole seconds. A wall-clock step while running changes nothing
// (no mass expiry, no mass greylisting). Across a restart the persisted wall seconds are the only
// bridge: real downtime counts, and times found in the future (the wall clock went back) are
// clamped to now, so no window is negative.
//
// Memory: entries are 16-byte keys (triplets: a 128-bit MurmurHash3 of network, sender and
// recipient; networks: the masked address) + 16-byte GreyEntry in hash maps, about 70 bytes per
// entry (measured in greylist_test: MemoryPerEntry). Two different triplets share a key with odds
// about n^2 / 2^129 (n = 1e6: 1e-27); the hash is not keyed, so such a collision can be forged
// only with the knowledge of a passed triplet and still buys no more than that triplet's pass.
// The admin API therefore shows triplets by key (hex), not by their text.
//
// Threads: check() and everything else from any thread (libmilter workers, the policy event
// loop, the control socket): 16 shards, each with its own mutex. Bounded: at most `max_entries`
// entries (triplets and networks); a full shard first drops expired entries, then the oldest
// unpassed triplets (1/64 of the shard at once), then the least recently seen entries (metric
// greylist-evictions).
// Failures: none reach the SMTP client from here; the store's are logged and counted by the
// store (greylist_store.h); greylist_store_failure() is the group's on-error answer for a
// backend that can't answer at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/cidr.h"
#include "lib/clock.h"
#include "lib/config_types.h"
#include "policy/greylist_store.h"
#include "policy/sender_normalise.h"
#include "policy/transaction.h"
#include "policy/verdict.h"

namespace mpp::policy {

struct GreyKeyHash {
    std::size_t operator()(const GreyKey& k) const noexcept;
};

// One row of `mppctl greylist list|show`.
struct GreylistRow {
    std::string key;         // triplet: 32 hex digits; network: "net:" + address
    std::string kind;        // "triplet" or "network"
    GreyEntry entry;
    std::string state;       // "waiting", "passed", "counting", "whitelisted"
};

class Greylist {
public:
    enum class Outcome {
        no_client,         // not greylisted: no client IP
        auto_whitelisted,  // the client network passed often enough
        first_seen,        // defer
        too_early,         // defer
        passed_first,      // pass after being delayed (prepend header)
        passed,            // pass, passed before
    };
    struct Result {
        Outcome outcome;
        Verdict verdict;
    };
    struct Options {
        std::size_t max_entries = 2'000'000;
    };

    // `store` (may be null: a volatile table) is loaded by load(), not here.
    Greylist(const Clock& clock, Options options, std::unique_ptr<GreylistStore> store = nullptr);

    // Replays the store into the table (expired entries skipped), then compacts it.
    void load();
    // dry_run (mppctl explain): the same answer, but no state changes, no log line.
    // The engine's hook (EngineHooks::greylist) is check(...).verdict.
    Result check(const Transaction&, const config::GreylistCfg&, bool dry_run = false);
    // The timer's work: drop expired entries, compact the store when due, sync it.
    void maintain();

    std::size_t size() const;
    std::uint32_t now() const;  // the table's clock, wall seconds (see above)

    // Admin API. The key of a triplet as list shows it.
    std::string key_of(const IpAddr& client, std::string_view sender, std::string_view recipient,
                       const config::GreylistCfg&) const;
    std::vector<GreylistRow> list(std::size_t limit = 0) const;  // 0: all
    std::optional<GreylistRow> show(std::string_view key) const;
    bool erase(std::string_view key);
    std::size_t flush();  // removes everything; returns how many entries

private:
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<GreyKey, GreyEntry, GreyKeyHash> triplets;
        std::unordered_map<GreyKey, GreyEntry, GreyKeyHash> networks;
    };
    static constexpr std::size_t kShards = 16;

    Shard& shard_of(const GreyKey& k) { return shards_[GreyKeyHash()(k) >> 60]; }
    const Shard& shard_of(const GreyKey& k) const { return shards_[GreyKeyHash()(k) >> 60]; }
    void make_room(Shard&, std::uint32_t now);  // with the shard's lock held
    void persist(GreyKind, const GreyKey&, const GreyEntry*);  // null entry: erase
    void count_pass(const GreyKey& net, const config::GreylistCfg&, std::uint32_t now);
    void apply(const GreyRecord&, std::uint32_t now);
    void dump(const GreySink&) const;
    static GreyKey triplet_key(const GreyKey& net, std::string_view sender, std::string_view recipient,
                               const config::GreylistCfg&);
    static GreyKey network_key(const IpAddr& client, const config::GreylistCfg&);
    std::optional<GreylistRow> row_locked(const Shard&, GreyKind, const GreyKey&) const;

    const Clock& clock_;
    Options options_;
    std::unique_ptr<GreylistStore> store_;
    std::size_t shard_cap_;
    std::chrono::steady_clock::time_point base_steady_;
    std::int64_t base_wall_;
    std::array<Shard, kShards> shards_;
};

// The verdict when the greylist store can't answer: on-error="accept" -> none (DUNNO),
// "defer" -> 451 4.7.1.
Verdict greylist_store_failure(const config::GreylistCfg&);

}  // namespace mpp::policy
