// store/query.h: what the admin verbs (`mppctl quarantine list|show|release|delete`) ask of a
// store, whichever holds the entries: MariaDB (store/db_query.h) or maildirs. The verbs are
// written once against this interface.
//
// Owns: types and the interface only. Threads: an implementation says.
// Identity: an entry is named by its uuid; a recipient by its address (compared
// case-insensitively in ASCII). Addresses and texts are returned as stored, byte for byte.
// Limits: list() returns at most Filter::limit rows (the caller bounds it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/entry.h"

namespace mpp::store {

// What to list. Empty fields do not filter.
struct Filter {
    EntryKind kind = EntryKind::quarantine;
    std::string recipient;  // "user@example.com", or "@example.com" for the whole domain
    std::string sender;  // the same forms; "<>" for the null sender
    std::string subject;  // a substring, case-insensitive
    std::int64_t since = 0;  // received at or after (Unix seconds); 0: no bound
    std::int64_t until = 0;  // received before; 0: no bound
    std::size_t limit = 100;
};

// One listed row: one recipient of one entry, newest first.
struct Listed {
    std::string uuid;
    std::int64_t received = 0;
    std::string recipient;
    std::string sender;
    std::string subject;
    std::uint64_t size = 0;
    double score = 0;
    std::string verdict;
    std::int64_t released = 0;  // when it was released to this recipient; 0: not released
};

// One entry in full (show, release).
struct Stored {
    Entry entry;
    std::vector<std::int64_t> released;  // per entry.recipients[i]; 0: not released
    std::uint64_t body_size = 0;  // bytes of the stored message
};

enum class Removed { nothing, recipient, entry };

class Query {
public:
    virtual ~Query() = default;
    // nullopt and *error when the store can't answer.
    virtual std::optional<std::vector<Listed>> list(const Filter& filter, std::string* error) = 0;
    // The entry; nullopt with *error empty when there is none with that uuid.
    virtual std::optional<Stored> show(const std::string& uuid, std::string* error) = 0;
    // Streams the stored message to `sink` in pieces; a sink returning false stops it (then
    // fetch returns false with *error "stopped"). False with *error when there is no such
    // entry or its message is incomplete (checked against the stored size at the end).
    virtual bool fetch(const std::string& uuid, const std::function<bool(std::string_view)>& sink,
                       std::string* error) = 0;
    // Removes one recipient of the entry (`recipient` non-empty), and the whole entry when it
    // was the last one or `recipient` is empty.
    virtual std::optional<Removed> remove(const std::string& uuid, const std::string& recipient,
                                          std::string* error) = 0;
    // Records that the message was released to `recipient` ("" all of them). False with
    // *error when the entry or recipient is unknown.
    virtual bool mark_released(const std::string& uuid, const std::string& recipient,
                               std::string* error) = 0;
};

}  // namespace mpp::store
