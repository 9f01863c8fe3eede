// policy/greylist_admin.cc: what `mppctl greylist list|show|flush|delete` asks the greylist
// (the control socket thread; the verbs are wired in the daemon). Keys as the rows show them:
// a triplet is its 128-bit hash in 32 lower-case hex digits (the text of a triplet is not kept,
// see greylist.h; key_of() computes it from client, sender and recipient), a network is
// "net:" + its masked address. Rows come shard by shard, each under its shard's lock only.


#include "policy/greylist.h"

namespace mpp::policy {
namespace {

std::string hex(const GreyKey& k) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : k) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

// "net:ADDR" or 32 hex digits -> kind and key; false when it is neither.
bool parse_key(std::string_view text, GreyKind& kind, GreyKey& key) {
    if (text.substr(0, 4) == "net:") {
        auto ip = IpAddr::parse(text.substr(4));
        if (!ip) return false;
        kind = GreyKind::network;
        key = ip->bytes;
        return true;
    }
    if (text.size() != 32) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < 16; ++i) {
        int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    kind = GreyKind::triplet;
    return true;
}

GreylistRow make_row(GreyKind kind, const GreyKey& k, const GreyEntry& e) {
    GreylistRow row;
    row.entry = e;
    if (kind == GreyKind::network) {
        row.kind = "network";
        row.key = "net:" + IpAddr{k}.str();
        row.state = e.passed ? "whitelisted" : "counting";
    } else {
        row.kind = "triplet";
        row.key = hex(k);
        row.state = e.passed ? "passed" : "waiting";
    }
    return row;
}

}  // namespace

std::string Greylist::key_of(const IpAddr& client, std::string_view sender, std::string_view recipient,
                             const config::GreylistCfg& cfg) const {
    return hex(triplet_key(network_key(client, cfg), sender, recipient, cfg));
}

std::vector<GreylistRow> Greylist::list(std::size_t limit) const {
    std::vector<GreylistRow> rows;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (const auto& [k, e] : s.networks) {
            if (limit && rows.size() >= limit) return rows;
            rows.push_back(make_row(GreyKind::network, k, e));
        }
        for (const auto& [k, e] : s.triplets) {
            if (limit && rows.size() >= limit) return rows;
            rows.push_back(make_row(GreyKind::triplet, k, e));
        }
    }
    return rows;
}

std::optional<GreylistRow> Greylist::show(std::string_view text) const {
    GreyKind kind;
    GreyKey key{};
    if (!parse_key(text, kind, key)) return std::nullopt;
    const Shard& s = shard_of(key);
    std::lock_guard lock(s.mutex);
    const auto& map = kind == GreyKind::network ? s.networks : s.triplets;
    auto it = map.find(key);
    if (it == map.end()) return std::nullopt;
    return make_row(kind, key, it->second);
}

bool Greylist::erase(std::string_view text) {
    GreyKind kind;
    GreyKey key{};
    if (!parse_key(text, kind, key)) return false;
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mutex);
    auto& map = kind == GreyKind::network ? s.networks : s.triplets;
    if (!map.erase(key)) return false;
    persist(kind, key, nullptr);
    return true;
}

std::size_t Greylist::flush() {
    std::size_t n = 0;
    for (Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.triplets.size() + s.networks.size();
        s.triplets.clear();
        s.networks.clear();
    }
    // A snapshot of what is left (what arrived since) replaces the old state and its journals.
    if (store_) store_->compact([this](const GreySink& sink) { dump(sink); });
    return n;
}

}  // namespace mpp::policy
