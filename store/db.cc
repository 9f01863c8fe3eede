// store/db.cc: the MariaDB connection, its prepared statements and the URL (see db.h).
#include "store/db.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>

#include "lib/utf8.h"

namespace mpp::store {
namespace {

constexpr std::size_t kMaxKey = 255;

bool has_control_or_space(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
    return false;
}

void library_init() {
    static std::once_flag once;
    std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

struct ResultCloser {
    void operator()(MYSQL_RES* r) const noexcept { mysql_free_result(r); }
};
using ResultPtr = std::unique_ptr<MYSQL_RES, ResultCloser>;

}  // namespace

std::optional<DbUrl> DbUrl::parse(std::string_view text, std::string* error) {
    auto bad = [&](std::string_view why) -> std::optional<DbUrl> {
        if (error)
            *error = "bad database URL \"" + std::string(text) + "\": " + std::string(why) +
                     " (expected mariadb://USER@HOST[:PORT]/DATABASE[?socket=/path])";
        return std::nullopt;
    };
    std::string_view rest;
    if (text.substr(0, 10) == "mariadb://")
        rest = text.substr(10);
    else if (text.substr(0, 8) == "mysql://")
        rest = text.substr(8);
    else
        return bad("unknown scheme");
    DbUrl url;
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return bad("missing /DATABASE");
    std::string_view authority = rest.substr(0, slash), db = rest.substr(slash + 1);
    auto at = authority.rfind('@');
    if (at == std::string_view::npos || at == 0) return bad("missing USER@ before the host");
    std::string_view user = authority.substr(0, at), hostport = authority.substr(at + 1);
    if (user.find(':') != std::string_view::npos)
        return bad("a password does not belong in the URL: put it in database-password-file");
    if (has_control_or_space(user) || user.size() > 80) return bad("bad user name");
    url.user = user;

    std::string_view host = hostport, port;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos) return bad("unclosed [ in the host");
        port = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!port.empty() && port.front() != ':') return bad("junk after ]");
        if (!port.empty()) port.remove_prefix(1);
        if (host.empty() ||
            host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
            return bad("bad IPv6 address in []");
    } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
        if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("missing host");
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
              c == ':'))
            return bad("bad host");
    if (!port.empty() || hostport.find(':') != std::string_view::npos) {
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || p == 0 ||
            p > 65535)
            return bad("bad port");
        url.port = p;
    }
    url.host = host;

    if (db.empty()) return bad("missing database name after '/'");
    if (db.size() > 64) return bad("database name longer than 64 characters");
    for (char c : db)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'))
            return bad("bad database name (letters, digits, _ and $ only)");
    url.database = db;

    if (!query.empty()) {
        if (query.substr(0, 7) != "socket=") return bad("the only option is ?socket=/path");
        std::string_view path = query.substr(7);
        if (path.empty() || path.front() != '/') return bad("socket must be an absolute path");
        if (has_control_or_space(path) || path.find('&') != std::string_view::npos)
            return bad("bad socket path");
        if (url.port != 0) return bad("a port and a socket exclude each other");
        url.socket = path;
    }
    return url;
}

std::string DbUrl::display() const {
    std::string out = "mariadb://" + user + "@";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port) out += ":" + std::to_string(port);
    out += "/" + database;
    if (!socket.empty()) out += "?socket=" + socket;
    return out;
}

std::optional<DbSettings> DbSettings::from_config(const config::StoreCfg& cfg, std::string* error) {
    if (cfg.database.empty()) {
        if (error) *error = "no database configured (<store database=\"mariadb://...\">)";
        return std::nullopt;
    }
    auto url = DbUrl::parse(cfg.database, error);
    if (!url) return std::nullopt;
    DbSettings s;
    s.url = std::move(*url);
    s.timeout = cfg.database_timeout;
    if (!cfg.database_password_file.empty()) {
        std::ifstream in(cfg.database_password_file);
        if (!in) {
            if (error)
                *error = "cannot read database-password-file " + cfg.database_password_file + ": " +
                         std::strerror(errno);
            return std::nullopt;
        }
        std::getline(in, s.password);
        if (!s.password.empty() && s.password.back() == '\r') s.password.pop_back();
        if (s.password.size() > 1024) {
            if (error)
                *error = "database-password-file " + cfg.database_password_file +
                         ": the first line is longer than 1024 bytes";
            return std::nullopt;
        }
    }
    return s;
}

bool connection_lost(unsigned err) {
    return (err >= 2000 && err < 3000) || (err >= 5000 && err < 6000) ||
           err == ER_SERVER_SHUTDOWN || err == ER_CONNECTION_KILLED;
}

std::string lookup_key(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return cut_utf8(std::move(out), kMaxKey);
}

std::string domain_key(std::string_view address) {
    auto at = address.rfind('@');
    if (at == std::string_view::npos) return "";
    return lookup_key(address.substr(at + 1));
}

// --- Params -------------------------------------------------------------------------------

Params& Params::i64(std::int64_t v) {
    values_.emplace_back(v);
    return *this;
}
Params& Params::u64(std::uint64_t v) {
    values_.emplace_back(v);
    return *this;
}
Params& Params::f64(double v) {
    values_.emplace_back(v);
    return *this;
}
Params& Params::bytes(std::string_view v) {
    values_.emplace_back(v);
    return *this;
}
Params& Params::text(std::string_view v) {
    values_.emplace_back(Text{v});
    return *this;
}
Params& Params::null() {
    values_.emplace_back(nullptr);
    return *this;
}

// --- Statement ----------------------------------------------------------------------------

Statement::Statement(Db& db, StmtPtr stmt, std::string sql)
    : db_(db), stmt_(std::move(stmt)), sql_(std::move(sql)) {}

bool Statement::fail(const char* what, std::string* error) {
    std::string text =
        db_.error_text(what, mysql_stmt_errno(stmt_.get()), mysql_stmt_error(stmt_.get()));
    if (error) *error = std::move(text);
    return false;
}

bool Statement::execute(const Params& params, std::string* error, bool stream) {
    MYSQL_STMT* s = stmt_.get();
    mysql_stmt_free_result(s);
    const auto n = mysql_stmt_param_count(s);
    if (n != params.values_.size()) {
        if (error)
            *error = "internal: " + std::to_string(params.values_.size()) + " values for " +
                     std::to_string(n) + " placeholders in: " + sql_;
        return false;
    }
    std::vector<MYSQL_BIND> binds(n);
    std::vector<unsigned long> lengths(n);
    for (std::size_t i = 0; i < n; ++i) {
        MYSQL_BIND& b = binds[i];
        std::memset(&b, 0, sizeof b);
        auto& v = const_cast<Params::Value&>(params.values_[i]);
        if (auto* p = std::get_if<std::int64_t>(&v)) {
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.buffer = p;
        } else if (auto* u = std::get_if<std::uint64_t>(&v)) {
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.buffer = u;
            b.is_unsigned = 1;
        } else if (auto* d = std::get_if<double>(&v)) {
            b.buffer_type = MYSQL_TYPE_DOUBLE;
            b.buffer = d;
        } else if (auto* sv = std::get_if<std::string_view>(&v)) {
            b.buffer_type = MYSQL_TYPE_BLOB;
            b.buffer = const_cast<char*>(sv->data());
            lengths[i] = sv->size();
            b.buffer_length = sv->size();
            b.length = &lengths[i];
        } else if (auto* t = std::get_if<Params::Text>(&v)) {
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = const_cast<char*>(t->v.data());
            lengths[i] = t->v.size();
            b.buffer_length = t->v.size();
            b.length = &lengths[i];
        } else {
            b.buffer_type = MYSQL_TYPE_NULL;
        }
    }
    if (n && mysql_stmt_bind_param(s, binds.data())) return fail("bind", error);
    if (mysql_stmt_execute(s)) return fail("execute", error);
    columns_ = mysql_stmt_field_count(s);
    floating_.assign(columns_, false);
    if (columns_) {
        ResultPtr meta(mysql_stmt_result_metadata(s));
        if (!meta) return fail("read result metadata", error);
        MYSQL_FIELD* fields = mysql_fetch_fields(meta.get());
        for (unsigned i = 0; i < columns_; ++i)
            floating_[i] =
                fields[i].type == MYSQL_TYPE_DOUBLE || fields[i].type == MYSQL_TYPE_FLOAT;
    }
    if (columns_ && !stream && mysql_stmt_store_result(s)) return fail("read result", error);
    return true;
}

bool Statement::fetch(Row* row, std::string* error) {
    if (error) error->clear();
    MYSQL_STMT* s = stmt_.get();
    if (columns_ == 0) return false;
    result_.assign(columns_, MYSQL_BIND{});
    lengths_.assign(columns_, 0);
    nulls_.assign(columns_, 0);
    errors_.assign(columns_, 0);
    doubles_.assign(columns_, 0);
    for (unsigned i = 0; i < columns_; ++i) {
        MYSQL_BIND& b = result_[i];
        std::memset(&b, 0, sizeof b);
        b.buffer_type = MYSQL_TYPE_STRING;  // no buffer: fetch() sizes one per value below
        if (floating_[i]) {  // Connector/C's own double-to-text needs a sized buffer
            b.buffer_type = MYSQL_TYPE_DOUBLE;
            b.buffer = &doubles_[i];
        }
        b.length = &lengths_[i];
        b.is_null = &nulls_[i];
        b.error = &errors_[i];
    }
    if (mysql_stmt_bind_result(s, result_.data())) return fail("bind result", error);
    int rc = mysql_stmt_fetch(s);
    if (rc == MYSQL_NO_DATA) {
        mysql_stmt_free_result(s);
        return false;
    }
    if (rc == 1) return fail("fetch", error);
    row->assign(columns_, std::nullopt);
    for (unsigned i = 0; i < columns_; ++i) {
        if (nulls_[i]) continue;
        if (floating_[i]) {
            char buf[32];
            auto res = std::to_chars(buf, buf + sizeof buf, doubles_[i]);
            (*row)[i] = std::string(buf, res.ptr);
            continue;
        }
        std::string value(lengths_[i], '\0');
        if (lengths_[i] > 0) {
            MYSQL_BIND b;
            std::memset(&b, 0, sizeof b);
            unsigned long got = 0;
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = value.data();
            b.buffer_length = lengths_[i];
            b.length = &got;
            if (mysql_stmt_fetch_column(s, &b, i, 0)) return fail("fetch column", error);
        }
        (*row)[i] = std::move(value);
    }
    return true;
}

void Statement::done() { mysql_stmt_free_result(stmt_.get()); }

std::uint64_t Statement::affected_rows() const { return mysql_stmt_affected_rows(stmt_.get()); }
std::uint64_t Statement::insert_id() const { return mysql_stmt_insert_id(stmt_.get()); }

// --- Db -----------------------------------------------------------------------------------

Db::Db(DbSettings settings) : settings_(std::move(settings)) {}

Db::~Db() { disconnect(); }

void Db::disconnect() {
    statements_.clear();  // statements before the connection they belong to
    mysql_.reset();
    broken_ = false;
}

std::string Db::error_text(const char* what, unsigned err, const char* message) {
    last_errno_ = err;
    if (connection_lost(err)) broken_ = true;
    std::string text = "mariadb " + settings_.url.display() + ": " + what + ": " +
                       (message && *message ? message : "unknown error") + " (errno " +
                       std::to_string(err) + ")";
    if (err == ER_NO_SUCH_TABLE || err == ER_BAD_FIELD_ERROR)
        text += "; is the schema loaded? (mppctl db upgrade)";
    return text;
}

bool Db::connect(std::string* error, bool* fresh) {
    if (fresh) *fresh = false;
    if (mysql_ && !broken_) return true;
    disconnect();
    library_init();
    MysqlPtr m(mysql_init(nullptr));
    if (!m) {
        if (error) *error = "mariadb " + settings_.url.display() + ": mysql_init: out of memory";
        return false;
    }
    unsigned timeout = static_cast<unsigned>(settings_.timeout.count());
    my_bool no = 0;
    unsigned zero = 0;
    mysql_options(m.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m.get(), MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m.get(), MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m.get(), MYSQL_OPT_RECONNECT, &no);
    mysql_options(m.get(), MYSQL_OPT_LOCAL_INFILE, &zero);
    mysql_options(m.get(), MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const auto& u = settings_.url;
    if (!mysql_real_connect(
            m.get(), u.socket.empty() ? u.host.c_str() : "localhost", u.user.c_str(),
            settings_.password.empty() ? nullptr : settings_.password.c_str(), u.database.c_str(),
            u.port, u.socket.empty() ? nullptr : u.socket.c_str(), 0)) {
        std::string text = error_text("connect", mysql_errno(m.get()), mysql_error(m.get()));
        broken_ = false;  // there is no connection to drop
        if (error) *error = std::move(text);
        return false;
    }
    mysql_ = std::move(m);
    broken_ = false;
    // Fixed text; the number is ours (database-timeout), not input.
    const std::string session =
        "SET SESSION time_zone = '+00:00', "
        "sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout = " +
        std::to_string(settings_.timeout.count());
    if (!exec(session, error)) {
        disconnect();
        return false;
    }
    if (fresh) *fresh = true;
    return true;
}

bool Db::exec(std::string_view sql, std::string* error) {
    if (!connected()) {
        if (error) *error = "mariadb " + settings_.url.display() + ": not connected";
        return false;
    }
    if (mysql_real_query(mysql_.get(), sql.data(), sql.size())) {
        std::string text =
            error_text("query", mysql_errno(mysql_.get()), mysql_error(mysql_.get()));
        if (error) *error = std::move(text);
        return false;
    }
    ResultPtr drop(mysql_store_result(mysql_.get()));
    last_errno_ = 0;
    return true;
}

bool Db::query(std::string_view sql, std::vector<Row>* rows, std::string* error) {
    rows->clear();
    if (!connected()) {
        if (error) *error = "mariadb " + settings_.url.display() + ": not connected";
        return false;
    }
    MYSQL* m = mysql_.get();
    if (mysql_real_query(m, sql.data(), sql.size())) {
        std::string text = error_text("query", mysql_errno(m), mysql_error(m));
        if (error) *error = std::move(text);
        return false;
    }
    ResultPtr res(mysql_store_result(m));
    if (!res) {
        if (mysql_field_count(m) == 0) return true;
        std::string text = error_text("read result", mysql_errno(m), mysql_error(m));
        if (error) *error = std::move(text);
        return false;
    }
    const unsigned cols = mysql_num_fields(res.get());
    while (MYSQL_ROW r = mysql_fetch_row(res.get())) {
        unsigned long* len = mysql_fetch_lengths(res.get());
        Row row(cols);
        for (unsigned i = 0; i < cols; ++i)
            if (r[i]) row[i] = std::string(r[i], len[i]);
        rows->push_back(std::move(row));
    }
    last_errno_ = 0;
    return true;
}

Statement* Db::prepare(const std::string& sql, std::string* error) {
    if (!connected()) {
        if (error) *error = "mariadb " + settings_.url.display() + ": not connected";
        return nullptr;
    }
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second.get();
    if (statements_.size() >= kMaxStatements) statements_.clear();
    StmtPtr stmt(mysql_stmt_init(mysql_.get()));
    if (!stmt) {
        std::string text =
            error_text("prepare", mysql_errno(mysql_.get()), mysql_error(mysql_.get()));
        if (error) *error = std::move(text);
        return nullptr;
    }
    if (mysql_stmt_prepare(stmt.get(), sql.data(), sql.size())) {
        std::string text =
            error_text("prepare", mysql_stmt_errno(stmt.get()), mysql_stmt_error(stmt.get()));
        if (error) *error = std::move(text);
        return nullptr;
    }
    auto owned = std::make_unique<Statement>(*this, std::move(stmt), sql);
    Statement* raw = owned.get();
    statements_.emplace(sql, std::move(owned));
    return raw;
}

void Db::rollback() {
    if (!connected()) return;
    std::string ignored;
    exec("ROLLBACK", &ignored);
}

}  // namespace mpp::store
