// policy/split.h: the mixed-policy split (<group split-recipients="yes">): remembers, per SMTP
// transaction, the group of its first accepted recipient, so that a later recipient of another
// group can be told 452 4.5.3 "try again in a separate transaction".
//
// Owns: a bounded table transaction id (the policy protocol's instance, else the queue id) ->
// group name. Threads: thread-safe (one mutex); policy event loop and libmilter workers.
// Limits: at most max_entries transactions, each forgotten kTtl after it was first seen (a
// transaction lasts minutes at most); a full table evicts the oldest entry. Losing an entry only
// means a mixed transaction is not split (it is then handled per recipient after DATA).
// Without a transaction id nothing is remembered and nothing is split.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "lib/clock.h"

namespace mpp::policy {

class FirstGroups {
public:
    static constexpr std::size_t kDefaultMaxEntries = 50000;
    static constexpr std::chrono::seconds kTtl{3600};

    explicit FirstGroups(Clock& clock, std::size_t max_entries = kDefaultMaxEntries);

    // The group of the transaction's first accepted recipient, if known.
    std::optional<std::string> get(const std::string& transaction) const;
    // Records `group` unless the transaction already has one.
    void accept(const std::string& transaction, const std::string& group);
    std::size_t size() const;

private:
    struct Entry {
        std::string group;
        std::chrono::steady_clock::time_point seen;
    };
    void purge_locked(std::chrono::steady_clock::time_point now);

    Clock& clock_;
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> order_;
};

}  // namespace mpp::policy
