// policy/table_snapshots.h: the auto-blacklist (policy/blocklist.h) and the threshold counters
// (policy/threshold.h) saved in the daemon's state-dir, so a restart keeps who is blocked and
// how much each key has sent.
//
// Owns: the two files STATE-DIR/blocklist.state and STATE-DIR/thresholds.state, and the table
// versions last written. The tables are small (bounded, 100k keys by default), so each is saved
// whole, as an atomic snapshot (STATE-DIR/NAME.tmp, fsync, rename, fsync the directory), when it
// changed since its last save: by save(), which policy::Checks calls from its maintenance thread
// (every 10 s) and at close(). A killed daemon loses at most the changes since the last save.
// Threads: load() once at start, before any request; save() from one thread at a time (a mutex
// guards it anyway); the tables are read through their thread-safe export_state(), which
// encodes each entry into the file's buffer under the table's lock: a full table of 100k keys
// holds its lock for tens of milliseconds once per save (the write and fsync come after).
//
// On disk (frames as policy/state_file.h; integers little-endian; times wall-clock milliseconds
// since the epoch, as the steady clock does not survive a restart):
//   file      = magic (8 bytes: "MPPBLK1\n" block list, "MPPTHR1\n" thresholds) +
//               saved-at (u64) + record frames + a trailer frame
//   trailer   = 0xFF + the number of records (u64)
//   block     = 1 (u8) + source (u8: 1 spam trap, 2 admin) + until (u64) + client (16 bytes,
//               IPv6 or IPv4-mapped) + scope, reason (u16 length + bytes each)
//   threshold = 1 (u8) + width (u32, seconds per bucket) + buckets (u8, 1..32) +
//               newest bucket's start (u64) + blocked until (u64, 0: not blocked) +
//               group, rule, key (u16 length + bytes each) + message mask (u32) + spam mask
//               (u32: bit i set when bucket i, oldest first, counted) + the counts of the set
//               bits (u32 each, messages first, oldest bucket first)
// Limits: a frame holds at most 16 KiB; a reason is cut to 1024 bytes, an entry with a longer
// scope, group, rule or key (4096 bytes) is not saved (reported once per save); a file over
// 256 MiB is not read.
// Loading: entries already expired are skipped (a block past its deadline, a window whose counts
// all left it); when the wall clock reads earlier than saved-at, time is counted from saved-at.
// Failures: never fatal, never an SMTP-visible outcome. A record whose checksum fails or that
// does not decode is skipped and reported (file, record number, byte offset); a file with a bad
// header, a torn or out-of-range frame, or a missing or wrong trailer is damaged: what decoded
// is loaded, the file is reported and renamed NAME.corrupt-SECONDS, and the next save writes a
// good one (metric state-load-errors). A failed save is logged once until a save works again and
// counted (metric state-save-errors); the old file stays and the next tick tries again.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "lib/clock.h"
#include "policy/blocklist.h"
#include "policy/threshold.h"

namespace mpp::policy {

class TableSnapshots {
public:
    // An empty `dir`: the tables are kept in memory only (load() and save() do nothing).
    TableSnapshots(std::string dir, const Clock& clock, Blocklist& blocks, Thresholds& thresholds);

    // Reads both files into the tables; logs what it found.
    void load();
    // Writes each table that changed since its last save. False when a write failed (logged).
    bool save();

    std::string blocklist_path() const { return dir_ + "/" + kBlocklistFile; }
    std::string thresholds_path() const { return dir_ + "/" + kThresholdsFile; }

    static constexpr const char* kBlocklistFile = "blocklist.state";
    static constexpr const char* kThresholdsFile = "thresholds.state";

private:
    bool save_blocks();
    bool save_thresholds();
    bool write(const char* name, const std::string& bytes, bool& failing);

    std::string dir_;
    const Clock& clock_;
    Blocklist& blocks_;
    Thresholds& thresholds_;
    std::mutex save_mutex_;
    std::uint64_t saved_blocks_ = 0;      // the table versions in the files
    std::uint64_t saved_thresholds_ = 0;
    bool blocks_failing_ = false;         // a save failed; logged once until one works
    bool thresholds_failing_ = false;
};

}  // namespace mpp::policy
