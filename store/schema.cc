// store/schema.cc: parsing etc/schema.sql into versions and applying the missing ones.
#include "store/schema.h"

#include <mysqld_error.h>

#include <charconv>

namespace mpp::store {
namespace {

constexpr std::string_view kMarker = "-- version: ";
constexpr const char* kLockName = "mpp_schema_upgrade";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

// Releases the named lock when the upgrade ends, however it ends.
class UpgradeLock {
public:
    explicit UpgradeLock(Db& db) : db_(db) {}
    ~UpgradeLock() {
        if (!held_ || !db_.connected()) return;
        std::vector<Row> rows;
        std::string ignored;
        db_.query(std::string("SELECT RELEASE_LOCK('") + kLockName + "')", &rows, &ignored);
    }
    UpgradeLock(const UpgradeLock&) = delete;
    UpgradeLock& operator=(const UpgradeLock&) = delete;

    bool take(std::string* error) {
        std::vector<Row> rows;
        const std::string sql = std::string("SELECT GET_LOCK('") + kLockName + "', " +
                                std::to_string(db_.settings().timeout.count()) + ")";
        if (!db_.query(sql, &rows, error)) return false;
        if (rows.size() != 1 || rows[0].empty() || rows[0][0] != "1") {
            if (error)
                *error = "another schema upgrade holds the lock " + std::string(kLockName) +
                         "; try again when it is done";
            return false;
        }
        held_ = true;
        return true;
    }

private:
    Db& db_;
    bool held_ = false;
};

}  // namespace

std::optional<std::vector<SchemaVersion>> parse_schema(std::string_view sql, std::string* error) {
    std::vector<SchemaVersion> versions;
    std::string statement;
    std::size_t line_no = 0, statement_line = 0;
    auto bad = [&](std::size_t line, const std::string& why) {
        if (error) *error = "schema line " + std::to_string(line) + ": " + why;
        return std::nullopt;
    };
    while (!sql.empty()) {
        auto nl = sql.find('\n');
        std::string_view raw = sql.substr(0, nl);
        sql = nl == std::string_view::npos ? std::string_view{} : sql.substr(nl + 1);
        ++line_no;
        std::string_view line = trim(raw);
        if (line.substr(0, kMarker.size()) == kMarker) {
            if (!statement.empty()) return bad(statement_line, "statement without a final ';'");
            std::string_view num = line.substr(kMarker.size());
            int v = 0;
            auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
            if (ec != std::errc{} || ptr != num.data() + num.size())
                return bad(line_no, "bad version number");
            int expected = versions.empty() ? 1 : versions.back().version + 1;
            if (v != expected)
                return bad(line_no, "version " + std::to_string(v) + " where " +
                                        std::to_string(expected) + " was expected");
            if (!versions.empty() && versions.back().statements.empty())
                return bad(line_no, "version " + std::to_string(versions.back().version) +
                                        " has no statements");
            versions.push_back(SchemaVersion{v, {}});
            continue;
        }
        if (line.empty() || line.substr(0, 2) == "--") continue;
        if (versions.empty()) return bad(line_no, "SQL before the first \"-- version: 1\" line");
        if (statement.empty())
            statement_line = line_no;
        else
            statement += '\n';
        statement += line;
        if (line.back() == ';') {
            statement.pop_back();
            versions.back().statements.push_back(std::move(statement));
            statement.clear();
        }
    }
    if (!statement.empty()) return bad(statement_line, "statement without a final ';'");
    if (versions.empty()) return bad(line_no, "no \"-- version: 1\" line");
    if (versions.back().statements.empty())
        return bad(line_no,
                   "version " + std::to_string(versions.back().version) + " has no statements");
    return versions;
}

int latest_schema_version() {
    std::string error;
    auto versions = parse_schema(kSchemaSql, &error);
    return versions ? versions->back().version : 0;
}

std::optional<int> database_version(Db& db, std::string* error) {
    if (!db.connect(error)) return std::nullopt;
    std::vector<Row> rows;
    std::string why;
    if (!db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version", &rows, &why)) {
        if (db.last_errno() == ER_NO_SUCH_TABLE) return 0;
        if (error) *error = std::move(why);
        return std::nullopt;
    }
    int v = 0;
    if (rows.size() != 1 || rows[0].empty() || !rows[0][0]) return 0;
    const std::string& text = *rows[0][0];
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
}

std::optional<UpgradeResult> upgrade_schema(Db& db, std::string_view sql, std::string* error) {
    auto versions = parse_schema(sql, error);
    if (!versions) return std::nullopt;
    if (!db.connect(error)) return std::nullopt;
    UpgradeLock lock(db);
    if (!lock.take(error)) return std::nullopt;
    auto current = database_version(db, error);
    if (!current) return std::nullopt;
    UpgradeResult result;
    result.from = result.to = *current;
    const int latest = versions->back().version;
    if (*current > latest) {
        if (error)
            *error = "the database's schema version " + std::to_string(*current) +
                     " is newer than this mppd knows (" + std::to_string(latest) +
                     "): upgrade mppd instead";
        return std::nullopt;
    }
    for (const auto& v : *versions) {
        if (v.version <= *current) continue;
        for (const auto& statement : v.statements)
            if (!db.exec(statement, error)) {
                if (error) *error = "version " + std::to_string(v.version) + ": " + *error;
                return std::nullopt;
            }
        auto now = database_version(db, error);
        if (!now) return std::nullopt;
        if (*now < v.version) {
            if (error)
                *error = "version " + std::to_string(v.version) +
                         " ran but did not record itself in schema_version";
            return std::nullopt;
        }
        result.applied.push_back(v.version);
        result.to = v.version;
    }
    return result;
}

}  // namespace mpp::store
