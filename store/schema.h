// store/schema.h: the database schema (etc/schema.sql, compiled into mppd) and its upgrade.
//
// Format of the schema text: versions in order, each starting with a line "-- version: N"
// (1, 2, 3 ... without gaps) and ending with a statement that records N in schema_version;
// a statement ends with ';' at the end of a line; other lines starting with "--" are comments.
// Every statement of a version may run twice (IF NOT EXISTS, INSERT IGNORE): an upgrade
// interrupted half-way (DDL is not transactional in MariaDB) is finished by running it again.
// Concurrency: upgrade() holds the server lock "mpp_schema_upgrade" (GET_LOCK, waiting up to
// the database timeout), so two upgrades at once apply each version once.
// Threads: as Db (the caller's thread only).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/db.h"

namespace mpp::store {

// etc/schema.sql as it was when mppd was built.
extern const char kSchemaSql[];

struct SchemaVersion {
    int version = 0;
    std::vector<std::string> statements;  // without the final ';'
};

// The versions of `sql`; nullopt and *error ("schema line N: ...") when it is malformed.
std::optional<std::vector<SchemaVersion>> parse_schema(std::string_view sql, std::string* error);

// The newest version in the compiled-in schema.
int latest_schema_version();

// The database's schema version: 0 when it has none (no schema_version table).
std::optional<int> database_version(Db& db, std::string* error);

struct UpgradeResult {
    int from = 0;  // the version found
    int to = 0;  // the version reached
    std::vector<int> applied;  // versions applied now, in order (empty: already current)
};

// Applies the versions of `sql` the database lacks, in order. Refuses a database whose version
// is newer than `sql` knows. Connects when needed.
std::optional<UpgradeResult> upgrade_schema(Db& db, std::string_view sql, std::string* error);

}  // namespace mpp::store
