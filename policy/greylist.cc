// policy/greylist.cc: the greylist decision and the table's upkeep (see greylist.h for the
// rules, threads, limits and time). The admin API is in greylist_admin.cc.
#include "policy/greylist.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::policy {
namespace {

static_assert(sizeof(std::size_t) == 8, "shard choice takes the top 4 bits of a 64-bit hash");

std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
std::uint64_t fmix(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}
std::uint64_t load64(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}

// MurmurHash3 x64_128 (seed 0), little-endian loads.
GreyKey murmur3_128(std::string_view in) {
    const auto* d = reinterpret_cast<const std::uint8_t*>(in.data());
    const std::size_t len = in.size();
    const std::uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    std::uint64_t h1 = 0, h2 = 0;
    std::size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        std::uint64_t k1 = load64(d + i, 8), k2 = load64(d + i + 8, 8);
        k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1;
        h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
        k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2;
        h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
    }
    std::size_t rest = len - i;
    if (rest > 8) {
        std::uint64_t k2 = load64(d + i + 8, rest - 8);
        k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2;
    }
    if (rest > 0) {
        std::uint64_t k1 = load64(d + i, std::min<std::size_t>(rest, 8));
        k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1;
    }
    h1 ^= len; h2 ^= len;
    h1 += h2; h2 += h1;
    h1 = fmix(h1); h2 = fmix(h2);
    h1 += h2; h2 += h1;
    GreyKey k;
    for (int b = 0; b < 8; ++b) {
        k[b] = static_cast<std::uint8_t>(h1 >> (8 * b));
        k[8 + b] = static_cast<std::uint8_t>(h2 >> (8 * b));
    }
    return k;
}

std::uint32_t add_secs(std::uint32_t t, config::Duration d) {
    std::int64_t v = std::int64_t{t} + std::chrono::duration_cast<std::chrono::seconds>(d).count();
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, std::numeric_limits<std::uint32_t>::max()));
}
std::int64_t secs(config::Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

// Whether a refresh of a passed entry (last seen `before`, seen again at `now`) is written to
// the store: only the first one in each slice of expire/64 (1 s to 1 h), so a busy passed
// triplet costs one journal record an hour instead of one per message. The table itself is
// always current; after a restart an entry may expire up to one slice early.
bool refresh_due(std::uint32_t before, std::uint32_t now, config::Duration expire) {
    const std::int64_t slice = std::clamp<std::int64_t>(secs(expire) / 64, 1, 3600);
    return before / slice != now / slice;
}

Verdict defer(std::int64_t wait, std::string reason) {
    Verdict v;
    v.action = Action::greylist;
    v.code = 450;
    v.dsn = "4.7.1";
    v.text = log::cat("Greylisted, try again in ", std::max<std::int64_t>(wait, 1), " seconds");
    v.check = "greylist";
    v.reason = std::move(reason);
    return v;
}

Verdict pass(std::string reason) {
    Verdict v;
    v.check = "greylist";
    v.reason = std::move(reason);
    return v;
}

}  // namespace

std::size_t GreyKeyHash::operator()(const GreyKey& k) const noexcept {
    return fmix(load64(k.data(), 8) ^ rotl(load64(k.data() + 8, 8), 29));
}

Greylist::Greylist(const Clock& clock, Options options, std::unique_ptr<GreylistStore> store)
    : clock_(clock),
      options_(options),
      store_(std::move(store)),
      shard_cap_(std::max<std::size_t>(options.max_entries / kShards, 1)),
      base_steady_(clock.steady()),
      base_wall_(std::chrono::duration_cast<std::chrono::seconds>(clock.wall().time_since_epoch()).count()) {}

std::uint32_t Greylist::now() const {
    std::int64_t t = base_wall_ + std::chrono::duration_cast<std::chrono::seconds>(clock_.steady() - base_steady_).count();
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(t, 0, std::numeric_limits<std::uint32_t>::max()));
}

std::size_t Greylist::size() const {
    std::size_t n = 0;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.triplets.size() + s.networks.size();
    }
    return n;
}

void Greylist::persist(GreyKind kind, const GreyKey& key, const GreyEntry* e) {
    if (!store_) return;
    GreyRecord r;
    r.kind = kind;
    r.key = key;
    r.erase = e == nullptr;
    if (e) r.entry = *e;
    store_->append(r);
}

void Greylist::make_room(Shard& s, std::uint32_t now) {
    if (s.triplets.size() + s.networks.size() < shard_cap_) return;
    for (auto* map : {&s.triplets, &s.networks})
        std::erase_if(*map, [now](const auto& kv) { return kv.second.expires < now; });
    std::size_t size = s.triplets.size() + s.networks.size();
    if (size < shard_cap_) return;
    const std::size_t batch = std::max<std::size_t>(shard_cap_ / 64, 1);
    // The oldest unpassed triplets first; when none, the least recently seen of all.
    std::vector<std::pair<std::uint32_t, GreyKey>> victims;
    for (const auto& [k, e] : s.triplets)
        if (!e.passed) victims.emplace_back(e.first_seen, k);
    bool unpassed = !victims.empty();
    if (!unpassed) {
        for (const auto& [k, e] : s.triplets) victims.emplace_back(e.last_seen, k);
        for (const auto& [k, e] : s.networks) victims.emplace_back(e.last_seen, k);
    }
    std::size_t n = std::min(batch, victims.size());
    std::nth_element(victims.begin(), victims.begin() + static_cast<std::ptrdiff_t>(n - 1), victims.end());
    for (std::size_t i = 0; i < n; ++i) {
        const GreyKey& k = victims[i].second;
        if (s.triplets.erase(k)) {
            persist(GreyKind::triplet, k, nullptr);
        } else if (s.networks.erase(k)) {
            persist(GreyKind::network, k, nullptr);
        }
    }
    metrics::get("greylist-evictions").inc(static_cast<std::int64_t>(n));
}

Greylist::Result Greylist::check(const Transaction& tx, const config::GreylistCfg& cfg, bool dry_run) {
    if (!tx.client) {
        if (!dry_run)
            log::info(log::cat("greylist: client ", tx.client_address.empty() ? "unknown" : tx.client_address,
                               " has no IP address; not greylisted"));
        return {Outcome::no_client, pass("no client address")};
    }
    const std::uint32_t t = now();
    const GreyKey net = network_key(*tx.client, cfg);
    if (cfg.auto_whitelist > 0) {
        Shard& s = shard_of(net);
        std::lock_guard lock(s.mutex);
        auto it = s.networks.find(net);
        if (it != s.networks.end() && it->second.passed && it->second.expires >= t) {
            if (!dry_run) {
                const bool due = refresh_due(it->second.last_seen, t, cfg.expire);
                it->second.last_seen = t;
                it->second.expires = add_secs(t, cfg.expire);
                if (due) persist(GreyKind::network, net, &it->second);
            }
            return {Outcome::auto_whitelisted, pass("client network auto-whitelisted")};
        }
    }

    const GreyKey key = triplet_key(net, tx.sender, tx.recipient, cfg);
    Shard& s = shard_of(key);
    Result result{Outcome::first_seen, {}};
    {
        std::lock_guard lock(s.mutex);
        auto it = s.triplets.find(key);
        if (it != s.triplets.end() && it->second.expires < t) {
            if (dry_run) return {Outcome::first_seen, defer(secs(cfg.delay), "new triplet (the old one expired)")};
            s.triplets.erase(it);  // the window closed (or the pass expired): start over
            it = s.triplets.end();
        }
        if (it == s.triplets.end()) {
            if (!dry_run) {
                make_room(s, t);
                GreyEntry e;
                e.first_seen = e.last_seen = t;
                e.expires = add_secs(t, std::max(cfg.retry_window, cfg.delay));
                s.triplets.emplace(key, e);
                persist(GreyKind::triplet, key, &e);
            }
            return {Outcome::first_seen, defer(secs(cfg.delay), "new triplet")};
        }
        GreyEntry e = it->second;
        const bool refresh_written = !e.passed || refresh_due(e.last_seen, t, cfg.expire);
        e.last_seen = t;
        const std::int64_t waited = std::int64_t{t} - e.first_seen;
        if (e.passed) {
            if (e.count < std::numeric_limits<std::uint16_t>::max()) ++e.count;
            e.expires = add_secs(t, cfg.expire);
            result = {Outcome::passed, pass("triplet passed before")};
        } else if (waited < secs(cfg.delay)) {
            return {Outcome::too_early,
                    defer(secs(cfg.delay) - waited, log::cat("retry too early (", waited, "s after first)"))};
        } else {
            e.passed = 1;
            e.count = 1;
            e.expires = add_secs(t, cfg.expire);
            result.outcome = Outcome::passed_first;
            result.verdict = pass(log::cat("passed after ", waited, " seconds"));
            result.verdict.prepend.push_back(log::cat("X-MPP-Greylist: delayed ", waited, " seconds"));
        }
        if (dry_run) return result;
        it->second = e;
        if (refresh_written) persist(GreyKind::triplet, key, &e);
    }
    if (result.outcome == Outcome::passed_first && cfg.auto_whitelist > 0) count_pass(net, cfg, t);
    return result;
}

void Greylist::count_pass(const GreyKey& net, const config::GreylistCfg& cfg, std::uint32_t t) {
    Shard& s = shard_of(net);
    std::lock_guard lock(s.mutex);
    auto it = s.networks.find(net);
    if (it != s.networks.end() && it->second.expires < t) {
        s.networks.erase(it);
        it = s.networks.end();
    }
    if (it == s.networks.end()) {
        make_room(s, t);
        GreyEntry fresh;
        fresh.first_seen = t;
        it = s.networks.emplace(net, fresh).first;
    }
    GreyEntry& e = it->second;
    e.last_seen = t;
    if (e.count < std::numeric_limits<std::uint16_t>::max()) ++e.count;
    e.expires = add_secs(t, cfg.expire);
    if (e.count >= cfg.auto_whitelist && !e.passed) {
        e.passed = 1;
        log::info(log::cat("greylist: client network ", IpAddr{net}.str(), " auto-whitelisted after ",
                           e.count, " passed triplets"));
    }
    persist(GreyKind::network, net, &e);
}

GreyKey Greylist::triplet_key(const GreyKey& net, std::string_view sender, std::string_view recipient,
                              const config::GreylistCfg& cfg) {
    SenderNormalise how;
    how.srs = cfg.strip_srs;
    how.batv = cfg.strip_batv;
    how.extension = cfg.strip_extension;
    how.verp = cfg.strip_verp;
    std::string material(reinterpret_cast<const char*>(net.data()), net.size());
    std::string norm = sender.empty() ? std::string("<>") : normalise_sender(sender, how);
    for (int i = 0; i < 4; ++i) material += static_cast<char>(norm.size() >> (8 * i));
    material += norm;
    for (char c : recipient) material += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return murmur3_128(material);
}

GreyKey Greylist::network_key(const IpAddr& client, const config::GreylistCfg& cfg) {
    unsigned bits = client.is_v4() ? 96 + static_cast<unsigned>(std::clamp(cfg.ipv4_prefix, 0, 32))
                                   : static_cast<unsigned>(std::clamp(cfg.ipv6_prefix, 0, 128));
    return client.masked(bits).bytes;
}

void Greylist::dump(const GreySink& sink) const {
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        GreyRecord r;
        r.kind = GreyKind::triplet;
        for (const auto& [k, e] : s.triplets) { r.key = k; r.entry = e; sink(r); }
        r.kind = GreyKind::network;
        for (const auto& [k, e] : s.networks) { r.key = k; r.entry = e; sink(r); }
    }
}

void Greylist::apply(const GreyRecord& r, std::uint32_t t) {
    Shard& s = shard_of(r.key);
    std::lock_guard lock(s.mutex);
    auto& map = r.kind == GreyKind::network ? s.networks : s.triplets;
    if (r.erase || r.entry.expires < t) {
        map.erase(r.key);
        return;
    }
    GreyEntry e = r.entry;
    e.first_seen = std::min(e.first_seen, t);  // the wall clock went back while we were down
    e.last_seen = std::min(e.last_seen, t);
    if (!map.contains(r.key)) make_room(s, t);
    map[r.key] = e;
}

void Greylist::load() {
    if (!store_) return;
    const std::uint32_t t = now();
    store_->load([&](const GreyRecord& r) { apply(r, t); });
    log::info(log::cat("greylist: ", size(), " entries after loading"));
    store_->compact([this](const GreySink& sink) { dump(sink); });
}

void Greylist::maintain() {
    const std::uint32_t t = now();
    for (Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (auto* map : {&s.triplets, &s.networks})
            std::erase_if(*map, [t](const auto& kv) { return kv.second.expires < t; });
    }
    if (!store_) return;
    if (store_->compaction_due()) {
        store_->compact([this](const GreySink& sink) { dump(sink); });
    }
    store_->sync();
}

Verdict greylist_store_failure(const config::GreylistCfg& cfg) {
    if (cfg.on_error == config::GreylistError::accept) return pass("greylist store unavailable");
    Verdict v;
    v.action = Action::defer;
    v.code = 451;
    v.dsn = "4.7.1";
    v.text = "Greylist unavailable, try again later";
    v.check = "greylist";
    v.reason = "greylist store unavailable";
    return v;
}

}  // namespace mpp::policy
