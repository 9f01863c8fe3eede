// store/entry.h: what the store keeps of one message: its metadata (envelope, client, the
// groups, checks and verdict that decided it) beside the message bytes. One Entry per spool
// file; the spool (store/spool.h) writes it, the drainer (MariaDB) and the maildir store read
// it.
//
// Owns: plain data; no handles. Threads: value type.
// Identity: `uuid` (RFC 4122 version 4, lower-case text) is unique per entry and makes every
// write idempotent (a drainer that crashed between insert and unlink inserts nothing twice).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mpp::store {

enum class EntryKind { quarantine, archive };

struct EntryRecipient {
    std::string address;
    std::string group;  // the recipient's policy group
};

struct Entry {
    std::string uuid;
    EntryKind kind = EntryKind::quarantine;
    std::int64_t received = 0;  // Unix time (seconds) the message was accepted
    std::string queue_id;
    std::string message_id;     // the Message-ID header's value, "" when none
    std::string subject;        // decoded to UTF-8, cut to 998 bytes
    std::string client_ip;
    std::string client_name;
    std::string helo;
    std::string sender;         // envelope sender; "" for the null sender
    std::vector<EntryRecipient> recipients;  // those this entry is for
    std::uint64_t size = 0;     // message bytes
    double score = 0;
    std::string checks;         // "spamd:sa(7.3) rbl:zen(6) header:subject-spam"
    std::string verdict;        // "quarantine", "archive", "tag", ...
    std::string reason;         // why (the log line's reason)
    std::string config_revision;  // hash of the configuration that decided it
};

const char* kind_name(EntryKind);  // "quarantine", "archive"

}  // namespace mpp::store
