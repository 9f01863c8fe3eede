// store/db.h: one MariaDB connection (Connector/C) with its prepared statements, owned RAII.
//
// Owns: the MYSQL handle (MysqlPtr) and the MYSQL_STMT handles prepared on it (StmtPtr, cached
// by SQL text, at most kMaxStatements); no other state. Threads: one thread at a time per Db
// (the drainer owns one, each control verb opens its own); Connector/C is initialised once per
// process (mysql_library_init) by the first Db.
// Settings: <store database="mariadb://USER@HOST[:PORT]/DB[?socket=/path]">, the password from
// database-password-file (never in the URL, never in a log line or an error text), the
// connect, read and write timeouts all set to database-timeout, and on the server side the
// session's lock wait bounded by the same timeout, time zone +00:00, strict SQL mode, utf8mb4.
// Reconnect is explicit: Connector/C's auto-reconnect is off. A call that fails with a lost
// connection (server gone, lost, refused, shut down, killed) marks the connection broken; its
// statements and handle are closed by the next connect(), which makes a new connection. So a
// caller sees every failure (and decides whether to retry), and never a statement that runs
// silently on a fresh session without the transaction it belongs to.
// SQL: values only through prepared statements (Params); exec() and query() run fixed SQL text
// of mppd's own (START TRANSACTION, the schema), never text built from input.
// Errors: "mariadb USER@HOST/DB: WHAT: SERVER MESSAGE (errno N)".
#pragma once

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lib/config_types.h"

namespace mpp::store {

// A parsed <store database> URL.
struct DbUrl {
    std::string user;
    std::string host;  // "localhost" when a socket is named (the host part is then unused)
    unsigned port = 0;  // 0: the server's default (3306)
    std::string database;
    std::string socket;  // unix socket path, "" for TCP

    // mariadb://USER@HOST[:PORT]/DB[?socket=/path] (mysql:// too; [IPV6]:PORT). A password in
    // the URL is refused (it belongs in database-password-file). nullopt and *error when bad.
    static std::optional<DbUrl> parse(std::string_view text, std::string* error);
    // "USER@HOST:PORT/DB" or "USER@unix:/path/DB": for log lines and errors.
    std::string display() const;
};

struct DbSettings {
    DbUrl url;
    std::string password;  // "" for none
    std::chrono::seconds timeout{5};

    // From <store>: parses database, reads the first line of database-password-file.
    // nullopt and *error when no database is configured or the URL or file is bad.
    static std::optional<DbSettings> from_config(const config::StoreCfg&, std::string* error);
};

struct MysqlCloser {
    void operator()(MYSQL* m) const noexcept { mysql_close(m); }
};
using MysqlPtr = std::unique_ptr<MYSQL, MysqlCloser>;
struct StmtCloser {
    void operator()(MYSQL_STMT* s) const noexcept { mysql_stmt_close(s); }
};
using StmtPtr = std::unique_ptr<MYSQL_STMT, StmtCloser>;

// The values of one statement execution, in placeholder order. bytes() and text() keep a view:
// the viewed data must live until execute() returns.
class Params {
public:
    Params& i64(std::int64_t v);
    Params& u64(std::uint64_t v);
    Params& f64(double v);
    Params& bytes(std::string_view v);  // binary: VARBINARY/BLOB columns, exact bytes
    Params& text(std::string_view v);  // in the connection's character set (utf8mb4)
    Params& null();
    std::size_t size() const { return values_.size(); }

private:
    friend class Statement;
    struct Text {
        std::string_view v;
    };
    using Value =
        std::variant<std::int64_t, std::uint64_t, double, std::string_view, Text, std::nullptr_t>;
    std::vector<Value> values_;
};

// A result row: every column as text (integers in decimal, FLOAT and DOUBLE in their shortest
// exact form), nullopt for NULL.
using Row = std::vector<std::optional<std::string>>;

class Db;

// A prepared statement of one connection. Obtained from Db::prepare(); valid until the Db
// disconnects (the next connect() after a failure, or disconnect()).
class Statement {
public:
    Statement(Db& db, StmtPtr stmt, std::string sql);
    // Runs it. A statement with a result set keeps it (all rows client side unless `stream`,
    // then rows come from the server as fetch() asks: fetch them all before the next call).
    bool execute(const Params& params, std::string* error, bool stream = false);
    // The next row into *row: true; at the end false with *error empty; on failure false and
    // *error set.
    bool fetch(Row* row, std::string* error);
    // Drops what is left of the result (a streamed fetch stopped early).
    void done();
    std::uint64_t affected_rows() const;
    std::uint64_t insert_id() const;

private:
    bool fail(const char* what, std::string* error);
    Db& db_;
    StmtPtr stmt_;
    std::string sql_;
    unsigned columns_ = 0;
    std::vector<bool> floating_;  // per result column: FLOAT or DOUBLE (fetched as a double)
    // What fetch() binds the result to; members, since Connector/C keeps pointers to them.
    std::vector<MYSQL_BIND> result_;
    std::vector<unsigned long> lengths_;
    std::vector<my_bool> nulls_, errors_;
    std::vector<double> doubles_;
};

class Db {
public:
    static constexpr std::size_t kMaxStatements = 64;

    explicit Db(DbSettings settings);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Connects when not connected (or when the last call broke the connection). *fresh (if
    // given) tells whether a new connection was made.
    bool connect(std::string* error, bool* fresh = nullptr);
    bool connected() const { return mysql_ != nullptr && !broken_; }
    void disconnect();

    // Runs fixed SQL text; a result set is read and dropped.
    bool exec(std::string_view sql, std::string* error);
    // Runs fixed SQL text and returns its rows (small results only: the schema's queries).
    bool query(std::string_view sql, std::vector<Row>* rows, std::string* error);
    // The statement for `sql`, prepared on first use on this connection. nullptr and *error
    // when it can't be prepared.
    Statement* prepare(const std::string& sql, std::string* error);

    bool begin(std::string* error) { return exec("START TRANSACTION", error); }
    bool commit(std::string* error) { return exec("COMMIT", error); }
    void rollback();  // best effort: a failed rollback means the connection is gone anyway

    // The server's error number of the last failure (0 when the last call succeeded).
    unsigned last_errno() const { return last_errno_; }
    // Whether the last failure lost the connection (a retry needs a new one).
    bool lost() const { return broken_; }
    const DbSettings& settings() const { return settings_; }
    // "mariadb USER@HOST/DB: WHAT: MESSAGE (errno N)", recording the error and whether the
    // connection is lost. Statement uses it too.
    std::string error_text(const char* what, unsigned err, const char* message);

private:
    friend class Statement;
    DbSettings settings_;
    MysqlPtr mysql_;
    std::map<std::string, std::unique_ptr<Statement>> statements_;
    bool broken_ = false;
    unsigned last_errno_ = 0;
};

// Whether a Connector/C or server error number means the connection is gone.
bool connection_lost(unsigned err);

// The lookup form of an address or domain: ASCII letters lower-cased, cut to 255 bytes.
std::string lookup_key(std::string_view s);
// The domain of an address (after the last '@'), as lookup_key; "" when there is none.
std::string domain_key(std::string_view address);

}  // namespace mpp::store
