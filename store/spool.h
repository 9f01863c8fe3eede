// store/spool.h: the durable disk spool: every entry (a quarantine or archive copy and its
// metadata) is on disk before the caller tells the MTA "accept"; the drainer (store/drainer.h)
// later moves it to its target (maildir or MariaDB) and removes it.
//
// Layout (DIR = <store spool>, made by open() with mode 0700):
//   DIR/tmp/UUID      being written; never acknowledged. Removed at open (a crash mid-write).
//   DIR/new/UUID      complete and fsynced: put() returned success. One file per entry, in the
//                     format of store/spool_format.h (metadata, message, end marker + CRC).
//   DIR/corrupt/UUID  damaged files set aside (bad format, checksum, unknown name); never read
//                     again; for the admin to look at and remove.
//   DIR/lock          flock'ed while a Spool is open: a second mppd on the same spool is
//                     refused (it would delete the first one's tmp/ files and drain its entries).
// put(): write tmp/UUID, fsync it, rename it to new/UUID, fsync new/, and only then return
// success. A failure at any step removes tmp/UUID and returns an error; nothing half-written is
// ever in new/. remove() unlinks without an fsync of the directory: an entry that comes back
// after a power loss is drained again, which the targets' idempotence by uuid makes harmless.
// Bounds: at most max_entries entries and max_bytes bytes (file sizes) in new/; put() beyond
// either fails with Status::full, as does a full disk or quota (ENOSPC, EDQUOT, EFBIG), so the
// milter tempfails with 452 4.3.1 and the sender keeps the message. Crossing 80% of either
// bound logs one warning ("spool DIR: 80% full: ...") and counts "spool-alarms"; going back
// under 70% logs once more. Reaching a bound logs once per state change too.
// Order: list() gives entries oldest first (by the time they were put; at open, by mtime).
// Threads: every member is thread-safe (one mutex for the table; file writes happen outside
// it), called from libmilter workers (put), the drainer (list, read, remove, set_aside) and
// the control verbs at once.
// Metrics: gauges spool-entries and spool-bytes; counters spool-puts, spool-put-errors,
// spool-full, spool-alarms, spool-corrupt.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engines/scanner.h"
#include "lib/fd.h"
#include "store/entry.h"

namespace mpp::store {

struct PutResult {
    enum class Status { ok, full, error };
    Status status = Status::error;
    std::string error;  // why not, for a log line ("spool /var/spool/mppd: ...")
    std::string uuid;   // the entry's uuid (given or made)
    bool ok() const { return status == Status::ok; }
};

struct SpoolItem {
    std::string uuid;
    std::uint64_t bytes = 0;  // file size
};

// One entry read back: its metadata and a reader over its message.
struct SpoolEntry {
    Entry entry;
    std::uint64_t length = 0;  // message bytes
    std::unique_ptr<engines::MessageReader> message;
};

class Spool {
public:
    static constexpr std::uint64_t kDefaultMaxEntries = 100000;
    static constexpr std::uint64_t kDefaultMaxBytes = 1024ULL * 1024 * 1024;

    struct Limits {
        std::uint64_t max_entries = kDefaultMaxEntries;
        std::uint64_t max_bytes = kDefaultMaxBytes;
    };

    // Makes DIR, tmp/, new/ and corrupt/ when missing, removes what tmp/ holds, sets aside
    // files in new/ whose names are not uuids, and counts the rest. nullptr and *error when the
    // directories can't be made or read.
    static std::unique_ptr<Spool> open(const std::string& dir, Limits limits, std::string* error);

    // Writes the entry durably (see above). An empty entry.uuid gets a new one. The message is
    // read to its end; a reader that fails fails the put (Status::error).
    PutResult put(Entry entry, engines::MessageReader& message);
    PutResult put(Entry entry, std::string_view message);

    // Oldest first, at most `limit`.
    std::vector<SpoolItem> list(std::size_t limit) const;

    // The entry, after checking its whole file (format, length, checksum). nullopt and *error
    // when it can't be read; *damaged says whether the file itself is bad (set it aside) rather
    // than gone or unreadable now.
    std::optional<SpoolEntry> read(const std::string& uuid, std::string* error,
                                   bool* damaged = nullptr) const;

    // Unlinks new/UUID; false when it was not there.
    bool remove(const std::string& uuid);
    // Moves new/UUID to corrupt/ with a warning naming `why`; counted in spool-corrupt.
    void set_aside(const std::string& uuid, const std::string& why);

    void set_limits(Limits limits);
    std::uint64_t entries() const;
    std::uint64_t bytes() const;
    const std::string& dir() const { return dir_; }

    struct Private {};
    Spool(Private, std::string dir, Limits limits);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

private:
    PutResult write_file(const Entry& entry, engines::MessageReader& message,
                         std::uint64_t* file_size);
    void add(const std::string& uuid, std::uint64_t bytes);  // mutex held
    void note_level();                                       // mutex held
    void note_full();                                        // mutex held

    std::string dir_;
    Fd lock_;  // flock on DIR/lock while open
    mutable std::mutex mutex_;
    Limits limits_;
    std::uint64_t next_seq_ = 0;
    std::map<std::uint64_t, SpoolItem> order_;          // seq -> item, oldest first
    std::unordered_map<std::string, std::uint64_t> seq_of_;  // uuid -> seq
    std::uint64_t bytes_ = 0;
    std::uint64_t reserved_entries_ = 0;  // puts in progress
    bool alarm_ = false;
    bool full_ = false;
};

}  // namespace mpp::store
