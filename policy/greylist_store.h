// policy/greylist_store.h: where the greylist's state survives a restart. GreylistStore is the
// interface (the store issue adds a MariaDB backend shared by several gateways); FileGreylistStore
// keeps it in the daemon's state-dir as a snapshot plus an append-only journal.
//
// Threads: append() is called by the greylist under one of its shard locks, from libmilter
// workers and the policy event loop at once; the store serialises it with its own mutex (lock
// order: shard, then journal; the store never calls back into the table except from compact()).
// load() runs once at start, before any other call; compact() and sync() from the maintenance
// timer, one at a time.
//
// On disk (STATE-DIR/greylist.snapshot and greylist.journal.GEN, GEN decimal):
//   file   = magic (8 bytes: "MPPGLS1\n" snapshot, "MPPGLJ1\n" journal) + GEN (u64 LE) + frames
//   frame  = payload length (u32 LE, 1..256) + CRC-32 of the payload (u32 LE) + payload
//            (policy/state_file.h, shared with the other state files)
//   record = kind (u8: 1 triplet, 2 network) + op (u8: 1 put, 2 erase) + key (16 bytes) +
//            first_seen, last_seen, expires (u32 LE, wall seconds) + count (u16 LE) + flags (u8)
//   a snapshot ends with a trailer frame: kind 0xFF + record count (u64 LE)
// A snapshot with GEN g holds every change of journals < g; start replays the snapshot, then
// every journal >= g in order (records are whole states, so replaying one twice is harmless).
// Compaction opens journal g+1 first, then writes the snapshot (tmp, fsync, rename, fsync dir),
// then removes journals <= g.
//
// Failures: a torn last journal record (crash mid-write) is reported once and ignored; a frame
// with a bad checksum or length ends that journal's replay (reported); a corrupt snapshot (bad
// magic, frame, trailer or count) is reported, moved aside as greylist.snapshot.corrupt and the
// table starts from the journals alone. Nothing here is fatal. A write error is logged once per
// state change and counted (metric greylist-store-errors); the in-memory table keeps deciding
// (the file store is never "unavailable" to a lookup, so the group's on-error does not apply to
// it; a shared backend that can't answer maps to on-error, see greylist_store_failure()).
// Durability: every change is written to the journal at once (a killed daemon loses nothing);
// sync() makes it survive a power loss, so a power loss loses at most the changes since the last
// sync.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "lib/fd.h"
#include "policy/state_file.h"

namespace mpp::policy {

using GreyKey = std::array<std::uint8_t, 16>;

enum class GreyKind : std::uint8_t { triplet = 1, network = 2 };

// One entry's state. Times are wall-clock seconds since the epoch, as the table keeps them.
struct GreyEntry {
    std::uint32_t first_seen = 0;
    std::uint32_t last_seen = 0;
    std::uint32_t expires = 0;  // gone after this second
    std::uint16_t count = 0;    // triplet: passes; network: passed triplets (saturates)
    std::uint8_t passed = 0;    // triplet: passed greylisting; network: auto-whitelisted
};

struct GreyRecord {
    GreyKind kind = GreyKind::triplet;
    bool erase = false;
    GreyKey key{};
    GreyEntry entry;
};

using GreySink = std::function<void(const GreyRecord&)>;

class GreylistStore {
public:
    virtual ~GreylistStore() = default;
    // Replays everything persisted into `apply`, in order. Once, at start.
    virtual void load(const GreySink& apply) = 0;
    // Persists one change. Called under a table lock: must not wait on anything slow.
    virtual void append(const GreyRecord&) = 0;
    // Whether a compaction is due (journal past its bound, or a write failed).
    virtual bool compaction_due() const = 0;
    // Rewrites the state from `dump`, which calls its argument once per live entry.
    virtual void compact(const std::function<void(const GreySink&)>& dump) = 0;
    // Makes what was appended survive a power loss.
    virtual void sync() = 0;
};

// Decodes a journal's bytes (header included), calling `apply` per good record; the result
// says why it stopped. Used by the file store and by the fuzz target.
struct JournalScan {
    std::size_t records = 0;
    bool bad_header = false;
    bool torn = false;     // the last frame runs past the end of the data
    bool corrupt = false;  // bad length or checksum, or an undecodable record
    std::size_t stop_offset = 0;
};
JournalScan scan_journal(std::string_view bytes, const GreySink& apply);

class FileGreylistStore final : public GreylistStore {
public:
    // `dir` exists and is writable; a compaction is due after `compact_after` journal records.
    explicit FileGreylistStore(std::string dir, std::size_t compact_after = 200000);
    void load(const GreySink& apply) override;
    void append(const GreyRecord&) override;
    bool compaction_due() const override;
    void compact(const std::function<void(const GreySink&)>& dump) override;
    void sync() override;

    std::string snapshot_path() const { return dir_ + "/greylist.snapshot"; }
    std::string journal_path(std::uint64_t gen) const;
    std::uint64_t generation() const;

private:
    bool open_journal(std::uint64_t gen);  // with journal_mutex_ held
    void write_failed(std::string_view what);

    std::string dir_;
    std::size_t compact_after_;
    mutable std::mutex journal_mutex_;
    Fd journal_;
    std::uint64_t gen_ = 0;
    std::size_t journal_records_ = 0;
    bool broken_ = false;  // a write failed: the next compaction starts a clean journal
    std::mutex compact_mutex_;
};

}  // namespace mpp::policy
