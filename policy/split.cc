// policy/split.cc: first-accepted-group memory of transactions (see split.h).
#include "policy/split.h"

namespace mpp::policy {

FirstGroups::FirstGroups(Clock& clock, std::size_t max_entries)
    : clock_(clock), max_entries_(max_entries == 0 ? 1 : max_entries) {}

void FirstGroups::purge_locked(std::chrono::steady_clock::time_point now) {
    while (!order_.empty() && (order_.front().first + kTtl <= now ||
                               entries_.size() >= max_entries_)) {
        // A transaction recorded again after going stale has a later slot: keep it.
        auto it = entries_.find(order_.front().second);
        if (it != entries_.end() && it->second.seen == order_.front().first) entries_.erase(it);
        order_.pop_front();
    }
}

std::optional<std::string> FirstGroups::get(const std::string& transaction) const {
    if (transaction.empty()) return std::nullopt;
    auto now = clock_.steady();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(transaction);
    if (it == entries_.end() || it->second.seen + kTtl <= now) return std::nullopt;
    return it->second.group;
}

void FirstGroups::accept(const std::string& transaction, const std::string& group) {
    if (transaction.empty()) return;
    auto now = clock_.steady();
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(transaction); it != entries_.end()) {
        if (it->second.seen + kTtl > now) return;
        entries_.erase(it);  // stale: its queue slot goes when it reaches the front
    }
    purge_locked(now);
    entries_[transaction] = Entry{group, now};
    order_.emplace_back(now, transaction);
}

std::size_t FirstGroups::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace mpp::policy
