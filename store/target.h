// store/target.h: where drained spool entries go: the maildir store (no database configured)
// or MariaDB. The spool's drainer (store/spool.h) hands each entry in spool/new to the target
// and unlinks it only after write() returned true.
//
// Contract: write() is idempotent by entry.uuid: writing the same entry again (the drainer
// crashed between write and unlink) stores nothing twice and returns true. It returns false with
// `error` set when the entry could not be stored now (database down, disk full): the drainer
// keeps the entry and retries later with backoff. A permanently bad entry is the drainer's to
// set aside, not the target's.
// Threads: one drainer thread calls write(); implementations need not be thread-safe unless
// they say so.
#pragma once

#include <string>

#include "engines/scanner.h"
#include "store/entry.h"

namespace mpp::store {

class Target {
public:
    virtual ~Target() = default;
    virtual const char* name() const = 0;  // "maildir", "mariadb"
    virtual bool write(const Entry& entry, engines::MessageReader& message,
                       std::string* error) = 0;
};

}  // namespace mpp::store
