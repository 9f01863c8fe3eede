// store/tracking_log.h: message tracking without a database: one line per message appended to
// a local log file (<store tracking> with no <store database>), rotated by size.
//
// Line: "TIME uuid=U qid=Q msgid=M client=NAME[IP] helo=H from=<S> nrcpt=N size=B score=X
// verdict=V groups=G1,G2 rev=R", and with <store tracking="full"> also "checks= scores= rbl=
// parse= timings= elapsed=MSms". TIME is ISO 8601 UTC; every value is %XX-escaped (spaces,
// '%', control characters), so one message is always exactly one line and a field never holds
// a space: `grep qid=4XyZ1` or awk over fields works.
// Owns: the open file (O_APPEND), its size. Rotation: when a line would take the file past
// rotate_size, FILE.N-1 -> FILE.N ... FILE -> FILE.1 and a new FILE (at most keep old files), so
// the log is bounded at about (keep + 1) * rotate_size.
// Durability: written, not fsynced (a record, not mail: a power loss may take its last lines).
// Threads: write() is thread-safe (one mutex), called from libmilter workers.
// Failures: never reach the caller: a write that fails logs one warning per state change
// (failing / working again) and counts tracking-log-errors.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "lib/fd.h"
#include "store/tracking.h"

namespace mpp::store {

class TrackingLog {
public:
    struct Settings {
        std::string path;
        bool full = false;                                // <store tracking="full">
        std::uint64_t rotate_size = 100ULL * 1024 * 1024;
        unsigned keep = 10;
    };

    // nullptr and *error when the file can't be opened.
    static std::unique_ptr<TrackingLog> open(Settings settings, std::string* error);

    void write(const TrackingRecord& record);
    void set_full(bool full);

    struct Private {};
    TrackingLog(Private, Settings settings, Fd fd, std::uint64_t size);

private:
    bool rotate();  // mutex held

    std::mutex mutex_;
    Settings settings_;
    Fd fd_;
    std::uint64_t size_;
    bool failing_ = false;
};

// The line of a record (without LF).
std::string tracking_line(const TrackingRecord& r, bool full);

}  // namespace mpp::store
