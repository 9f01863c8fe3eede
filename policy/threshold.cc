// policy/threshold.cc: threshold counters and decisions (see threshold.h).
#include "policy/threshold.h"

#include <algorithm>
#include <tuple>

#include "lib/address.h"
#include "lib/metrics.h"
#include "policy/subject_key.h"

namespace mpp::policy {

using std::chrono::seconds;

namespace {

struct Shape {
    std::int64_t width;
    std::int64_t buckets;
};

Shape shape_of(const config::ThresholdCfg& rule) {
    std::int64_t p = std::max<std::int64_t>(1, rule.period.count());
    std::int64_t w = (p + Thresholds::kBuckets - 1) / Thresholds::kBuckets;
    return {w, (p + w - 1) / w};
}

std::string entry_id(const std::string& group, const std::string& rule, const std::string& key) {
    std::string id = group;
    id += '\0';
    id += rule;
    id += '\0';
    id += key;
    return id;
}

}  // namespace

std::optional<std::string> threshold_key(const config::ThresholdCfg& rule, const Transaction& t) {
    switch (rule.key) {
        case config::ThresholdKey::client:
            if (!t.client) return std::nullopt;
            return t.client->str();
        case config::ThresholdKey::sasl:
            if (t.sasl_username.empty()) return std::nullopt;
            return t.sasl_username;
        case config::ThresholdKey::sender: {
            auto a = Address::parse(t.sender);
            if (!a) return to_lower_ascii(t.sender);
            if (a->null()) return std::string("<>");
            return to_lower_ascii(a->str());
        }
        case config::ThresholdKey::subject: {
            std::string key = normalise_subject(t.subject);
            if (key.empty()) return std::nullopt;
            return key;
        }
    }
    return std::nullopt;
}

Thresholds::Thresholds(Clock& clock, std::size_t max_keys)
    : clock_(clock), max_keys_(max_keys == 0 ? 1 : max_keys) {}

namespace {
constexpr std::int64_t kOriginMs = (std::int64_t{1} << 32) * 1000;
}

std::int64_t Thresholds::steady_ms(std::chrono::steady_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count() +
           kOriginMs;
}

std::int64_t Thresholds::now_s() const { return steady_ms(clock_.steady()) / 1000; }

void Thresholds::advance(Entry& e, const config::ThresholdCfg& rule, std::int64_t now) {
    Shape s = shape_of(rule);
    std::int64_t b = now / s.width;
    if (e.width != s.width || e.buckets != s.buckets) {
        e.messages.fill(0);
        e.spams.fill(0);
        e.width = s.width;
        e.buckets = s.buckets;
        e.head = b;
        return;
    }
    if (b <= e.head) return;
    for (std::int64_t k = std::max(e.head + 1, b - e.buckets + 1); k <= b; ++k) {
        e.messages[static_cast<std::size_t>(k % e.buckets)] = 0;
        e.spams[static_cast<std::size_t>(k % e.buckets)] = 0;
    }
    e.head = b;
}

long Thresholds::sum(const Entry& e, const std::array<std::uint32_t, kBuckets>& counts,
                     std::int64_t now) {
    if (e.width <= 0) return 0;
    std::int64_t b = now / e.width;
    if (b - e.head >= e.buckets) return 0;
    long total = 0;
    for (std::int64_t k = std::max(e.head - e.buckets + 1, b - e.buckets + 1); k <= e.head; ++k)
        total += counts[static_cast<std::size_t>(k % e.buckets)];
    return total;
}

Thresholds::Entry* Thresholds::find_locked(const std::string& id) {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
}

Thresholds::Entry& Thresholds::get_locked(const std::string& id, const std::string& group,
                                          const config::ThresholdCfg& rule,
                                          const std::string& key) {
    if (Entry* e = find_locked(id)) {
        lru_.splice(lru_.begin(), lru_, e->lru);
        return *e;
    }
    while (entries_.size() >= max_keys_ && !lru_.empty()) {
        entries_.erase(lru_.back());
        lru_.pop_back();
        metrics::get("threshold-evictions").inc();
    }
    lru_.push_front(id);
    Entry& e = entries_[id];
    e.group = group;
    e.rule = rule.name;
    e.key = key;
    e.lru = lru_.begin();
    return e;
}

ThresholdUnit threshold_unit(const config::ThresholdCfg& rule) {
    if (rule.recipients > 0) return ThresholdUnit::recipients;
    if (rule.size > 0) return ThresholdUnit::kilobytes;
    return ThresholdUnit::messages;
}

const char* unit_name(ThresholdUnit u) {
    switch (u) {
        case ThresholdUnit::recipients: return "recipients";
        case ThresholdUnit::kilobytes: return "KiB";
        case ThresholdUnit::messages: break;
    }
    return "messages";
}

std::uint64_t unit_limit(const config::ThresholdCfg& rule) {
    switch (threshold_unit(rule)) {
        case ThresholdUnit::recipients: return static_cast<std::uint64_t>(rule.recipients);
        case ThresholdUnit::kilobytes: return (rule.size + 1023) / 1024;
        case ThresholdUnit::messages: break;
    }
    return static_cast<std::uint64_t>(rule.messages);
}

std::optional<std::uint64_t> threshold_amount(const config::ThresholdCfg& rule, const Transaction& t) {
    const ThresholdUnit unit = threshold_unit(rule);
    const bool subject = rule.key == config::ThresholdKey::subject;  // END-OF-MESSAGE only
    if (subject && t.stage == Stage::end_of_message && unit == ThresholdUnit::messages) return 1;
    if (t.stage == Stage::rcpt) {
        if (subject) return std::nullopt;
        return unit == ThresholdUnit::messages ? 1 : 0;
    }
    if (t.stage != Stage::end_of_message || unit == ThresholdUnit::messages) return std::nullopt;
    if (unit == ThresholdUnit::recipients) return std::max<std::uint64_t>(t.recipient_count, 1);
    return (t.size + 1023) / 1024;  // 0: size unknown, look only
}

ThresholdDecision Thresholds::check(const std::string& group, const config::ThresholdCfg& rule,
                                    const std::string& key, const std::string& message_id,
                                    bool dry_run, std::uint64_t amount) {
    ThresholdDecision d;
    auto now_tp = clock_.steady();
    std::int64_t now = now_s();
    std::string id = entry_id(group, rule.name, key);
    std::lock_guard lock(mutex_);
    Entry scratch;
    Entry* e = dry_run ? find_locked(id) : &get_locked(id, group, rule, key);
    if (!e) e = &scratch;
    Shape s = shape_of(rule);
    bool same_shape = e->width == s.width && e->buckets == s.buckets;
    if (!dry_run) advance(*e, rule, now);
    if (same_shape || !dry_run) {
        d.messages = sum(*e, e->messages, now);
        d.spams = sum(*e, e->spams, now);
    }
    if (e->until > now_tp) {
        d.over = true;
        d.left = std::chrono::ceil<seconds>(e->until - now_tp);
        return d;
    }
    if (amount == 0) return d;  // look only, and not blocked
    if (!message_id.empty() && message_id == e->last_message) {
        d.over = e->last_over;
        return d;
    }
    const std::uint64_t limit = unit_limit(rule);
    d.over = (limit == 0 || static_cast<std::uint64_t>(d.messages) + amount > limit) &&
             (rule.spams == 0 || d.spams >= rule.spams);
    d.crossing = d.over;
    bool refused = d.over && (rule.action == config::ThresholdAction::block ||
                              rule.action == config::ThresholdAction::defer);
    if (d.over && rule.block_for.count() > 0) d.left = rule.block_for;
    if (dry_run) return d;
    if (d.over && rule.block_for.count() > 0) e->until = now_tp + rule.block_for;
    if (!refused) {
        std::size_t slot = static_cast<std::size_t>(e->head % e->buckets);
        e->messages[slot] = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(std::uint64_t{e->messages[slot]} + amount, UINT32_MAX));
        d.counted = true;
    }
    e->last_message = message_id;
    e->last_over = d.over;
    ++version_;
    return d;
}

void Thresholds::record_spam(const std::string& group, const config::ThresholdCfg& rule,
                             const std::string& key, const std::string& message_id) {
    if (rule.spams == 0) return;
    std::int64_t now = now_s();
    std::string id = entry_id(group, rule.name, key);
    std::lock_guard lock(mutex_);
    Entry& e = get_locked(id, group, rule, key);
    advance(e, rule, now);
    if (!message_id.empty() && message_id == e.last_spam) return;
    std::size_t slot = static_cast<std::size_t>(e.head % e.buckets);
    if (e.spams[slot] < UINT32_MAX) ++e.spams[slot];
    e.last_spam = message_id;
    ++version_;
}

std::vector<ThresholdRow> Thresholds::list() const {
    auto now_tp = clock_.steady();
    std::int64_t now = now_s();
    std::lock_guard lock(mutex_);
    std::vector<ThresholdRow> rows;
    for (const auto& [id, e] : entries_) {
        ThresholdRow r{e.group, e.rule, e.key, sum(e, e.messages, now), sum(e, e.spams, now),
                       seconds(0)};
        if (e.until > now_tp) r.blocked_left = std::chrono::ceil<seconds>(e.until - now_tp);
        if (r.messages == 0 && r.spams == 0 && r.blocked_left.count() == 0) continue;
        rows.push_back(std::move(r));
    }
    std::sort(rows.begin(), rows.end(), [](const ThresholdRow& a, const ThresholdRow& b) {
        return std::tie(a.group, a.rule, a.key) < std::tie(b.group, b.rule, b.key);
    });
    return rows;
}

std::size_t Thresholds::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::uint64_t Thresholds::version() const {
    std::lock_guard lock(mutex_);
    return version_;
}

void Thresholds::export_state(const std::function<void(const ThresholdState&)>& sink) const {
    using std::chrono::milliseconds;
    const auto now_tp = clock_.steady();
    const auto wall = clock_.wall();
    const std::int64_t now_ms = steady_ms(now_tp);
    const std::int64_t now = now_ms / 1000;
    std::lock_guard lock(mutex_);
    ThresholdState st;  // reused: its strings and vectors keep their capacity
    for (const std::string& id : lru_) {
        const Entry& e = entries_.at(id);
        if (e.width <= 0) continue;
        st.width = e.width;
        st.buckets = e.buckets;
        st.messages.assign(static_cast<std::size_t>(e.buckets), 0);
        st.spams.assign(static_cast<std::size_t>(e.buckets), 0);
        const std::int64_t oldest = e.head - e.buckets + 1;
        bool counted = false;
        const std::int64_t first = std::max(oldest, now / e.width - e.buckets + 1);
        auto from = static_cast<std::size_t>(first % e.buckets);  // one division, not one a bucket
        for (std::int64_t k = first; k <= e.head; ++k) {
            auto to = static_cast<std::size_t>(k - oldest);
            st.messages[to] = e.messages[from];
            st.spams[to] = e.spams[from];
            counted = counted || e.messages[from] != 0 || e.spams[from] != 0;
            if (++from == static_cast<std::size_t>(e.buckets)) from = 0;
        }
        const bool blocked = e.until > now_tp;
        if (!counted && !blocked) continue;
        st.group = e.group;
        st.rule = e.rule;
        st.key = e.key;
        st.head_start = wall - milliseconds(now_ms - e.head * e.width * 1000);
        st.blocked_until =
            blocked ? wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(e.until - now_tp)
                    : std::chrono::system_clock::time_point{};
        sink(st);
    }
}

std::size_t Thresholds::import_state(const std::vector<ThresholdState>& saved,
                                     std::chrono::system_clock::time_point saved_at) {
    using std::chrono::milliseconds;
    const auto now_tp = clock_.steady();
    const auto wall = std::max(clock_.wall(), saved_at);
    const std::int64_t now_ms = steady_ms(now_tp);
    const std::int64_t now = now_ms / 1000;
    const auto max_block = std::chrono::hours(24 * 3650);
    std::lock_guard lock(mutex_);
    std::size_t taken = 0;
    for (const ThresholdState& st : saved) {
        if (entries_.size() >= max_keys_) break;
        const auto n = static_cast<std::size_t>(st.buckets);
        if (st.width < 1 || st.width > 30 * 86400 || st.buckets < 1 || st.buckets > kBuckets ||
            st.messages.size() != n || st.spams.size() != n)
            continue;
        std::string id = entry_id(st.group, st.rule, st.key);
        if (entries_.contains(id)) continue;
        Entry e;
        e.width = st.width;
        e.buckets = st.buckets;
        // The newest bucket's start on this run's steady clock, rounded to the nearest bucket.
        const std::int64_t w_ms = st.width * 1000;
        std::int64_t age_ms = std::chrono::duration_cast<milliseconds>(wall - st.head_start).count();
        std::int64_t head_ms = now_ms - std::max<std::int64_t>(age_ms, 0);
        e.head = std::min((head_ms + w_ms / 2) / w_ms, now / st.width);
        for (std::size_t i = 0; i < n; ++i) {
            auto slot = static_cast<std::size_t>((e.head - st.buckets + 1 + static_cast<std::int64_t>(i)) % st.buckets);
            e.messages[slot] = st.messages[i];
            e.spams[slot] = st.spams[i];
        }
        if (st.blocked_until > wall)
            e.until = now_tp + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::min<std::chrono::system_clock::duration>(st.blocked_until - wall, max_block));
        if (sum(e, e.messages, now) == 0 && sum(e, e.spams, now) == 0 && e.until <= now_tp) continue;
        e.group = st.group;
        e.rule = st.rule;
        e.key = st.key;
        lru_.push_back(id);
        e.lru = std::prev(lru_.end());
        entries_.emplace(std::move(id), std::move(e));
        ++taken;
    }
    if (taken > 0) ++version_;
    return taken;
}

}  // namespace mpp::policy
