// policy/blocklist.cc: the client block table (see blocklist.h).
#include "policy/blocklist.h"

#include "lib/metrics.h"

namespace mpp::policy {

using std::chrono::seconds;
using std::chrono::steady_clock;

Blocklist::Blocklist(Clock& clock, std::size_t max_entries)
    : clock_(clock), max_entries_(max_entries == 0 ? 1 : max_entries) {}

void Blocklist::erase_locked(std::map<Key, Entry>::iterator it) {
    by_expiry_.erase({it->second.until, it->first});
    entries_.erase(it);
}

void Blocklist::purge_locked(steady_clock::time_point now) {
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
        entries_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
    }
}

void Blocklist::add_locked(const Key& key, steady_clock::time_point until, BlockSource source,
                           const std::string& reason) {
    if (auto it = entries_.find(key); it != entries_.end()) {
        if (it->second.until >= until) return;
        erase_locked(it);
    }
    while (entries_.size() >= max_entries_ && !by_expiry_.empty()) {
        entries_.erase(by_expiry_.begin()->second);
        by_expiry_.erase(by_expiry_.begin());
        metrics::get("blocklist-evictions").inc();
    }
    entries_.emplace(key, Entry{until, source, reason});
    by_expiry_.insert({until, key});
    ++version_;
}

void Blocklist::add(const IpAddr& client, const std::string& scope, seconds duration,
                    BlockSource source, const std::string& reason) {
    if (duration <= seconds(0)) return;
    auto now = clock_.steady();
    std::lock_guard lock(mutex_);
    purge_locked(now);
    add_locked(Key{scope, client}, now + duration, source, reason);
}

std::optional<BlockHit> Blocklist::find(const IpAddr& client, const std::string& group) const {
    auto now = clock_.steady();
    std::lock_guard lock(mutex_);
    const std::string global;
    for (const std::string& scope : {global, group}) {
        auto it = entries_.find(Key{scope, client});
        if (it == entries_.end() || it->second.until <= now) continue;
        return BlockHit{scope, it->second.source, it->second.reason,
                        std::chrono::ceil<seconds>(it->second.until - now)};
    }
    return std::nullopt;
}

std::size_t Blocklist::remove(const IpAddr& client, const std::optional<std::string>& scope) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
        auto next = std::next(it);
        if (it->first.second == client && (!scope || it->first.first == *scope)) {
            erase_locked(it);
            ++n;
        }
        it = next;
    }
    if (n > 0) ++version_;
    return n;
}

std::vector<BlockRow> Blocklist::list() const {
    auto now = clock_.steady();
    auto wall = clock_.wall();
    std::lock_guard lock(mutex_);
    std::vector<BlockRow> rows;
    for (const auto& [key, e] : entries_) {
        if (e.until <= now) continue;
        auto left = std::chrono::ceil<seconds>(e.until - now);
        rows.push_back(BlockRow{key.second, key.first, e.source, e.reason, left,
                                wall + std::chrono::duration_cast<
                                           std::chrono::system_clock::duration>(e.until - now)});
    }
    return rows;
}

std::size_t Blocklist::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::uint64_t Blocklist::version() const {
    std::lock_guard lock(mutex_);
    return version_;
}

void Blocklist::export_state(const std::function<void(const BlockState&)>& sink) const {
    auto now = clock_.steady();
    auto wall = clock_.wall();
    std::lock_guard lock(mutex_);
    BlockState b;  // reused: its strings keep their capacity
    for (const auto& [key, e] : entries_) {
        if (e.until <= now) continue;
        b.client = key.second;
        b.scope = key.first;
        b.source = e.source;
        b.reason = e.reason;
        b.until = wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(e.until - now);
        sink(b);
    }
}

std::size_t Blocklist::import_state(const std::vector<BlockState>& saved,
                                    std::chrono::system_clock::time_point saved_at) {
    auto now = clock_.steady();
    auto wall = std::max(clock_.wall(), saved_at);
    std::lock_guard lock(mutex_);
    purge_locked(now);
    std::size_t n = 0;
    for (const BlockState& b : saved) {
        if (b.until <= wall) continue;
        auto left = std::min<std::chrono::system_clock::duration>(b.until - wall, kMaxImported);
        add_locked(Key{b.scope, b.client},
                   now + std::chrono::duration_cast<steady_clock::duration>(left), b.source,
                   b.reason);
        ++n;
    }
    return n;
}

}  // namespace mpp::policy
