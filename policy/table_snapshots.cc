// policy/table_snapshots.cc: blocklist.state and thresholds.state (see table_snapshots.h).
#include "policy/table_snapshots.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/state_file.h"

namespace mpp::policy {
namespace {

using Wall = std::chrono::system_clock::time_point;
using state::get_le;
using state::put_u16;
using state::put_u32;
using state::put_u64;
using state::put_u8;
using state::Reader;

constexpr char kBlockMagic[] = "MPPBLK1\n";
constexpr char kThresholdMagic[] = "MPPTHR1\n";
constexpr std::size_t kHeader = 16;  // magic + saved-at
constexpr std::size_t kMaxPayload = 16384;
constexpr std::size_t kMaxReason = 1024;
constexpr std::size_t kMaxField = 4096;
constexpr std::size_t kMaxFile = std::size_t{256} << 20;
constexpr std::uint8_t kRecord = 1;
constexpr std::uint8_t kTrailer = 0xFF;
constexpr std::size_t kReported = 5;  // skipped records reported one by one per file
constexpr std::size_t kBatch = 4096;   // records decoded before they go into the table
// Later than the year 2190: not a time this daemon wrote (and past what the clocks can hold).
constexpr std::uint64_t kMaxMs = 7'000'000'000'000;

std::uint64_t to_ms(Wall t) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}
Wall from_ms(std::uint64_t ms) {
    return Wall{} + std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

void put_str(std::string& p, std::string_view s) {
    put_u16(p, static_cast<std::uint16_t>(s.size()));
    p += s;
}

// A state file being built: the header, then record frames, then finish() adds the trailer.
struct FileBuilder {
    std::string bytes;
    std::uint64_t count = 0;
    FileBuilder(const char* magic, Wall saved_at) : bytes(magic, 8) { put_u64(bytes, to_ms(saved_at)); }
    void add(const std::string& payload) {
        state::frame(bytes, payload);
        ++count;
    }
    std::string finish() {
        std::string t;
        put_u8(t, kTrailer);
        put_u64(t, count);
        state::frame(bytes, t);
        return std::move(bytes);
    }
};

// Encodes into `p` (cleared first: one buffer serves every record of a save).
void encode_block(const BlockState& b, std::string& p) {
    p.clear();
    put_u8(p, kRecord);
    put_u8(p, b.source == BlockSource::admin ? 2 : 1);
    put_u64(p, to_ms(b.until));
    p.append(reinterpret_cast<const char*>(b.client.bytes.data()), b.client.bytes.size());
    put_str(p, b.scope);
    put_str(p, std::string_view(b.reason).substr(0, kMaxReason));
}

bool decode_block(Reader& r, BlockState& b) {
    auto type = r.num(1);
    auto source = r.num(1);
    auto until = r.num(8);
    auto client = r.str(16);
    b.scope = r.str16();
    b.reason = r.str16();
    if (!r.at_end() || type != kRecord || (source != 1 && source != 2) || until > kMaxMs ||
        b.scope.size() > kMaxField || b.reason.size() > kMaxReason)
        return false;
    b.source = source == 2 ? BlockSource::admin : BlockSource::spamtrap;
    b.until = from_ms(until);
    std::memcpy(b.client.bytes.data(), client.data(), 16);
    return true;
}

// Encodes into `p` (cleared first); false when a name is too long to be saved.
bool encode_threshold(const ThresholdState& t, std::string& p) {
    p.clear();
    if (t.group.size() > kMaxField || t.rule.size() > kMaxField || t.key.size() > kMaxField)
        return false;
    put_u8(p, kRecord);
    put_u32(p, static_cast<std::uint32_t>(t.width));
    put_u8(p, static_cast<std::uint8_t>(t.buckets));
    put_u64(p, to_ms(t.head_start));
    put_u64(p, t.blocked_until == Wall{} ? 0 : to_ms(t.blocked_until));
    put_str(p, t.group);
    put_str(p, t.rule);
    put_str(p, t.key);
    for (const auto* counts : {&t.messages, &t.spams}) {
        std::uint32_t mask = 0;
        for (std::size_t i = 0; i < counts->size(); ++i)
            if ((*counts)[i] != 0) mask |= std::uint32_t{1} << i;
        put_u32(p, mask);
    }
    for (const auto* counts : {&t.messages, &t.spams})
        for (std::uint32_t c : *counts)
            if (c != 0) put_u32(p, c);
    return true;
}

bool decode_threshold(Reader& r, ThresholdState& t) {
    auto type = r.num(1);
    t.width = static_cast<std::int64_t>(r.num(4));
    t.buckets = static_cast<std::int64_t>(r.num(1));
    auto head = r.num(8);
    auto blocked = r.num(8);
    t.group = r.str16();
    t.rule = r.str16();
    t.key = r.str16();
    std::uint64_t masks[2] = {r.num(4), r.num(4)};
    if (!r.ok() || type != kRecord || t.buckets < 1 || t.buckets > Thresholds::kBuckets ||
        head > kMaxMs || blocked > kMaxMs || (masks[0] | masks[1]) >> t.buckets != 0)
        return false;
    t.head_start = from_ms(head);
    t.blocked_until = blocked == 0 ? Wall{} : from_ms(blocked);
    std::vector<std::uint32_t>* counts[2] = {&t.messages, &t.spams};
    for (int k = 0; k < 2; ++k) {
        counts[k]->assign(static_cast<std::size_t>(t.buckets), 0);
        for (std::int64_t i = 0; i < t.buckets; ++i)
            if (masks[k] >> i & 1) (*counts[k])[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(r.num(4));
    }
    return r.at_end();
}

// What reading one state file found.
struct ReadResult {
    bool found = false;
    Wall saved_at{};
    std::size_t records = 0;  // decoded and handed on
    std::size_t skipped = 0;  // bad checksum or undecodable
    bool damaged = false;
    std::string why;  // when damaged
};

// Reads `path`, handing each record's payload to decode(Reader&, saved_at) (false:
// undecodable). Reports each skipped record (the first kReported); the caller reports damage.
template <typename F>
ReadResult read_state(const std::string& path, const char* magic, std::string_view what, F decode) {
    ReadResult res;
    std::string bytes;
    if (!state::read_file(path, bytes, kMaxFile)) {
        if (errno == ENOENT) return res;
        res.found = true;
        if (errno == EFBIG) {
            res.damaged = true;
            res.why = "larger than " + std::to_string(kMaxFile >> 20) + " MiB";
        } else {
            log::error(log::cat(what, ": cannot read ", path, ": ", std::strerror(errno),
                                "; starting empty"));
            metrics::get("state-load-errors").inc();
        }
        return res;
    }
    res.found = true;
    const auto* d = reinterpret_cast<const std::uint8_t*>(bytes.data());
    if (bytes.size() < kHeader || bytes.compare(0, 8, magic, 8) != 0 || get_le(d + 8, 8) > kMaxMs) {
        res.damaged = true;
        res.why = "bad header";
        return res;
    }
    res.saved_at = from_ms(get_le(d + 8, 8));
    std::size_t index = 0;
    bool trailer = false;
    auto skip = [&](std::size_t off, const char* why) {
        if (++res.skipped <= kReported)
            log::warning(log::cat(what, ": ", path, ": record ", index, " at byte ", off, ": ", why,
                                  "; skipped"));
    };
    auto scan = state::scan_frames(bytes, kHeader, kMaxPayload,
                                   [&](const std::uint8_t* p, std::size_t n, bool crc_ok, std::size_t off) {
        ++index;
        if (trailer) {
            res.why = "data after the trailer at byte " + std::to_string(off);
            return false;
        }
        if (!crc_ok) {
            skip(off, "bad checksum");
        } else if (n == 9 && p[0] == kTrailer) {
            trailer = true;
            if (get_le(p + 1, 8) != index - 1)
                res.why = "the trailer counts " + std::to_string(get_le(p + 1, 8)) + " records, the file has " +
                          std::to_string(index - 1);
        } else {
            Reader r(p, n);
            if (decode(r, res.saved_at)) ++res.records;
            else skip(off, "undecodable");
        }
        return true;
    });
    if (scan.torn) res.why = "torn frame at byte " + std::to_string(scan.stop_offset);
    else if (scan.corrupt && res.why.empty()) res.why = "bad frame length at byte " + std::to_string(scan.stop_offset);
    else if (!trailer && res.why.empty()) res.why = "no trailer";
    if (res.skipped > kReported)
        log::warning(log::cat(what, ": ", path, ": ", res.skipped - kReported, " more records skipped"));
    res.damaged = !res.why.empty() || res.skipped > 0;
    if (res.why.empty()) res.why = std::to_string(res.skipped) + " bad records";
    return res;
}

// Logs what loading found; sets a damaged file aside.
void report(std::string_view what, const std::string& path, const ReadResult& res, std::size_t taken) {
    if (!res.found) {
        log::info(log::cat(what, ": no ", path, "; starting empty"));
        return;
    }
    if (res.damaged) {
        metrics::get("state-load-errors").inc();
        std::string aside = state::set_aside(path);
        log::warning(log::cat(what, ": ", path, " is damaged (", res.why, "): ", res.records,
                              " records read, ", res.skipped, " skipped; ",
                              aside.empty() ? "could not set it aside: " + std::string(std::strerror(errno))
                                            : "set aside as " + aside));
    }
    log::info(log::cat(what, ": ", taken, " entries loaded from ", path, " (", res.records - std::min(res.records, taken),
                       " expired or over the table's bound)"));
}

}  // namespace

TableSnapshots::TableSnapshots(std::string dir, const Clock& clock, Blocklist& blocks,
                               Thresholds& thresholds)
    : dir_(std::move(dir)), clock_(clock), blocks_(blocks), thresholds_(thresholds) {}

void TableSnapshots::load() {
    if (dir_.empty()) {
        log::warning("block list and thresholds: no state directory; they are lost at restart");
        return;
    }
    std::lock_guard lock(save_mutex_);
    // Records go into the tables in batches, so a full file is never held twice in memory.
    {
        std::vector<BlockState> rows;
        std::size_t taken = 0;
        auto res = read_state(blocklist_path(), kBlockMagic, "block list", [&](Reader& r, Wall saved_at) {
            BlockState b;
            if (!decode_block(r, b)) return false;
            rows.push_back(std::move(b));
            if (rows.size() >= kBatch) {
                taken += blocks_.import_state(rows, saved_at);
                rows.clear();
            }
            return true;
        });
        if (!rows.empty()) taken += blocks_.import_state(rows, res.saved_at);
        report("block list", blocklist_path(), res, taken);
        saved_blocks_ = res.damaged ? UINT64_MAX : blocks_.version();
    }
    {
        std::vector<ThresholdState> rows;
        std::size_t taken = 0;
        auto res = read_state(thresholds_path(), kThresholdMagic, "thresholds", [&](Reader& r, Wall saved_at) {
            ThresholdState t;
            if (!decode_threshold(r, t)) return false;
            rows.push_back(std::move(t));
            if (rows.size() >= kBatch) {
                taken += thresholds_.import_state(rows, saved_at);
                rows.clear();
            }
            return true;
        });
        if (!rows.empty()) taken += thresholds_.import_state(rows, res.saved_at);
        report("thresholds", thresholds_path(), res, taken);
        saved_thresholds_ = res.damaged ? UINT64_MAX : thresholds_.version();
    }
}

bool TableSnapshots::save() {
    if (dir_.empty()) return true;
    std::lock_guard lock(save_mutex_);
    bool blocks_ok = save_blocks();
    bool thresholds_ok = save_thresholds();
    return blocks_ok && thresholds_ok;
}

bool TableSnapshots::save_blocks() {
    const std::uint64_t v = blocks_.version();
    if (v == saved_blocks_) return true;
    FileBuilder file(kBlockMagic, clock_.wall());
    std::string payload;
    blocks_.export_state([&](const BlockState& b) {
        encode_block(b, payload);
        file.add(payload);
    });
    if (!write(kBlocklistFile, file.finish(), blocks_failing_)) return false;
    saved_blocks_ = v;
    return true;
}

bool TableSnapshots::save_thresholds() {
    const std::uint64_t v = thresholds_.version();
    if (v == saved_thresholds_) return true;
    FileBuilder file(kThresholdMagic, clock_.wall());
    std::size_t too_long = 0;
    std::string payload;
    thresholds_.export_state([&](const ThresholdState& t) {
        if (encode_threshold(t, payload)) file.add(payload);
        else ++too_long;
    });
    if (too_long > 0)
        log::warning(log::cat("thresholds: ", too_long, " entries with a group, rule or key over ",
                              kMaxField, " bytes not saved"));
    if (!write(kThresholdsFile, file.finish(), thresholds_failing_)) return false;
    saved_thresholds_ = v;
    return true;
}

bool TableSnapshots::write(const char* name, const std::string& bytes, bool& failing) {
    std::string error;
    if (!state::write_atomic(dir_, name, bytes, &error)) {
        metrics::get("state-save-errors").inc();
        if (!failing)
            log::error(log::cat("cannot save ", dir_, "/", name, ": ", error,
                                "; the table goes on in memory, saving is retried"));
        failing = true;
        return false;
    }
    if (failing) log::notice(log::cat("saved ", dir_, "/", name, " again"));
    failing = false;
    return true;
}

}  // namespace mpp::policy
