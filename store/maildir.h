// store/maildir.h: the embedded quarantine and archive when no database is configured: each
// recipient's copy delivered into a maildir named by <store maildir>'s path template
// (store/maildir_path.h), and an index (store/maildir_index.h) for the admin verbs.
//
// Owns: the index, the host name used in file names. It is the drainer's Target (write) and
// the admin verbs' Query (list, show, fetch, remove, mark_released) at once.
// Delivery (write): one file per recipient copy (never a hard link: each copy names only its own
// recipient, so a Bcc recipient is not shown to the others), named
//   RECEIVED.UUID_N.HOST       (N the recipient's index in the entry; deterministic, so that a
//                               retried write finds what it wrote before)
// in MAILDIR/tmp, written, fsynced, linked to MAILDIR/new (an existing new/ file counts as
// done: a retry after a crash), unlinked from tmp/, and MAILDIR/new fsynced. MAILDIR and its
// tmp/ new/ cur/ are made with mode 0700 when missing. The file is X-MPP-* header lines (store
// id, kind and date, envelope sender, this copy's recipient, client, verdict, checks, reason;
// values %XX-escaped, so no header can be injected; same line ends as the message), then the
// original message byte for byte. Once every copy is in place the index gets the entry (so a
// crash before that only repeats the delivery). An entry already in the index is written
// again as nothing (idempotent by uuid).
// Reading back (fetch): a copy's file is found in new/, or in cur/ as FILE:2,FLAGS after a
// mail reader saw it; the X-MPP-* lines are skipped (their byte count is in the index and the
// first must name the uuid) and the message is streamed. Copies deleted by their reader are
// skipped; when none is left, fetch says so.
// Threads: every member is thread-safe (one mutex): the drainer writes while control verbs
// list, show, release and delete.
// Limits: the index's kMaxEntries; fetch and show stream in kChunk pieces.
// Failures: false/nullopt and an error naming the path and errno ("maildir /q/example.com/bob:
// write: No space left on device"); the drainer keeps the entry in the spool and retries.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "store/maildir_index.h"
#include "store/query.h"
#include "store/target.h"

namespace mpp::store {

class MaildirStore final : public Target, public Query {
public:
    static constexpr std::size_t kChunk = 64 * 1024;

    struct Settings {
        std::string path_template;  // <store maildir>
        std::string index_path;     // STATE-DIR/maildir.index
        std::string host;           // for file names; "": gethostname()
    };

    static std::unique_ptr<MaildirStore> open(Settings settings, std::string* error);

    // Target
    const char* name() const override { return "maildir"; }
    bool write(const Entry& entry, engines::MessageReader& message, std::string* error) override;

    // Query
    std::optional<std::vector<Listed>> list(const Filter& filter, std::string* error) override;
    std::optional<Stored> show(const std::string& uuid, std::string* error) override;
    bool fetch(const std::string& uuid, const std::function<bool(std::string_view)>& sink,
               std::string* error) override;
    std::optional<Removed> remove(const std::string& uuid, const std::string& recipient,
                                  std::string* error) override;
    bool mark_released(const std::string& uuid, const std::string& recipient,
                       std::string* error) override;

    // Where recipient `i` of the entry `uuid`'s copy is now ("" when gone or unknown).
    std::string copy_path(const std::string& uuid, std::size_t i) const;
    std::size_t size() const;

    struct Private {};
    MaildirStore(Private, Settings settings, std::unique_ptr<MaildirIndex> index);

private:
    std::string locate(const IndexCopy& c) const;  // the copy's file now, "" when gone

    Settings settings_;
    mutable std::mutex mutex_;
    std::unique_ptr<MaildirIndex> index_;
};

// The X-MPP-* lines put before the message in recipient `i`'s copy; `crlf` picks line ends.
std::string maildir_prefix(const Entry& e, std::size_t i, bool crlf);

}  // namespace mpp::store
