// store/db_target.h: the MariaDB target of the spool's drainer: quarantine and archive entries
// (metadata, one row per recipient, the message bytes) and message-tracking rows.
//
// Owns: one Db connection (store/db.h). Threads: the drainer's thread only (not thread-safe).
// Writes: write() inserts the entry, its recipients and its message in ONE transaction with
// prepared statements: the message is read from the reader in chunks of kChunk bytes, each
// chunk one entry_body row, so memory stays at one chunk whatever the message size. The uuid is
// UNIQUE: the entry row goes in with ON DUPLICATE KEY UPDATE, and when it was already there the
// transaction is rolled back and write() returns true (a second write stores nothing twice).
// write_tracking() is the same for one tracking row.
// Limits: a message longer than max_message bytes, more than kMaxRecipients recipients, or an
// address longer than kMaxAddress bytes is refused (false, a clear error: such an entry never
// fits; the drainer sets it aside). Subject, Message-ID and the other texts are cut to their
// column widths (UTF-8 kept whole).
// Failures: false and *error ("mariadb USER@HOST/DB: insert entry: ... (errno N)") when the
// database can't take it now; the drainer keeps the entry and backs off. A connection lost at
// the first statement of a reused connection (the server restarted while idle) is retried once
// on a new connection; later in a write the reader can't be rewound, so the write fails and the
// drainer's retry makes the new connection. Logging is the drainer's (once per state change,
// with the error text); metrics store-db-writes, store-db-duplicates, store-db-errors,
// store-db-tracking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "store/db.h"
#include "store/target.h"
#include "store/tracking.h"

namespace mpp::store {

class DbTarget final : public Target {
public:
    static constexpr std::size_t kChunk = 512 * 1024;
    static constexpr std::size_t kMaxRecipients = 65535;
    static constexpr std::size_t kMaxAddress = 2048;
    static constexpr std::uint64_t kDefaultMaxMessage = 1024ULL * 1024 * 1024;

    // max_message: bytes a message may have (0: kDefaultMaxMessage).
    explicit DbTarget(DbSettings settings, std::uint64_t max_message = 0);

    const char* name() const override { return "mariadb"; }
    bool write(const Entry& entry, engines::MessageReader& message, std::string* error) override;
    bool write_tracking(const TrackingRecord& record, std::string* error);

    Db& db() { return db_; }

private:
    enum class Outcome { stored, duplicate, failed, retry };
    Outcome write_entry(const Entry& entry, engines::MessageReader& message, bool reused,
                        std::string* error);
    Outcome write_track(const TrackingRecord& record, bool reused, std::string* error);
    // Connects; *reused tells whether the connection was already open.
    bool ready(bool* reused, std::string* error);

    Db db_;
    std::uint64_t max_message_;
};

}  // namespace mpp::store
