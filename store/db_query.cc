// store/db_query.cc: list, show, fetch, remove, release marks and purge over MariaDB (see
// db_query.h).
#include "store/db_query.h"

#include <charconv>
#include <cstdlib>

namespace mpp::store {
namespace {

constexpr std::size_t kMaxList = 100000;

std::int64_t to_i64(const std::optional<std::string>& v) {
    std::int64_t n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}
std::uint64_t to_u64(const std::optional<std::string>& v) {
    std::uint64_t n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}
double to_f64(const std::optional<std::string>& v) {
    return v ? std::strtod(v->c_str(), nullptr) : 0;
}
std::string str(const std::optional<std::string>& v) { return v ? *v : std::string(); }

// `s` as a LIKE pattern that matches only itself.
std::string like_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '%' || c == '_') out += '\\';
        out += c;
    }
    return out;
}

// Rolls the open transaction back and returns `value` (the failure; *error is already set).
template <typename T>
T rolled_back(Db& db, T value) {
    db.rollback();
    return value;
}

// "?, ?, ... ?" for the purge batch.
std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out;
}

}  // namespace

std::optional<std::vector<Listed>> DbQuery::list(const Filter& f, std::string* error) {
    if (!db_.connect(error)) return std::nullopt;
    std::string sql =
        "SELECT uuid, UNIX_TIMESTAMP(received), rcpt, sender, subject, size, score, verdict, "
        "COALESCE(UNIX_TIMESTAMP(released), 0) FROM entry_rcpt WHERE kind = ?";
    Params p;
    std::string recipient, sender, subject;  // outlive execute()
    p.text(f.kind == EntryKind::archive ? "archive" : "quarantine");
    if (!f.recipient.empty()) {
        if (f.recipient.front() == '@') {
            sql += " AND rcpt_domain = ?";
            recipient = lookup_key(f.recipient.substr(1));
        } else {
            sql += " AND rcpt_key = ?";
            recipient = lookup_key(f.recipient);
        }
        p.bytes(recipient);
    }
    if (!f.sender.empty()) {
        if (f.sender == "<>") {
            sql += " AND sender_key = ''";
        } else if (f.sender.front() == '@') {
            sql += " AND sender_key LIKE ?";
            sender = "%@" + like_escape(lookup_key(f.sender.substr(1)));
            p.bytes(sender);
        } else {
            sql += " AND sender_key = ?";
            sender = lookup_key(f.sender);
            p.bytes(sender);
        }
    }
    if (!f.subject.empty()) {
        sql += " AND CONVERT(subject USING utf8mb4) COLLATE utf8mb4_general_ci LIKE ?";
        subject = "%" + like_escape(f.subject) + "%";
        p.text(subject);
    }
    if (f.since) {
        sql += " AND received >= FROM_UNIXTIME(?)";
        p.i64(f.since);
    }
    if (f.until) {
        sql += " AND received < FROM_UNIXTIME(?)";
        p.i64(f.until);
    }
    sql += " ORDER BY received DESC, entry_id DESC, seq LIMIT ?";
    p.u64(std::min(std::max<std::size_t>(f.limit, 1), kMaxList));
    Statement* st = db_.prepare(sql, error);
    if (!st || !st->execute(p, error)) return std::nullopt;
    std::vector<Listed> out;
    Row r;
    while (st->fetch(&r, error)) {
        Listed l;
        l.uuid = str(r[0]);
        l.received = to_i64(r[1]);
        l.recipient = str(r[2]);
        l.sender = str(r[3]);
        l.subject = str(r[4]);
        l.size = to_u64(r[5]);
        l.score = to_f64(r[6]);
        l.verdict = str(r[7]);
        l.released = to_i64(r[8]);
        out.push_back(std::move(l));
    }
    if (error && !error->empty()) return std::nullopt;
    return out;
}

std::optional<DbQuery::Found> DbQuery::find(const std::string& uuid, bool for_update,
                                            std::string* error) {
    if (error) error->clear();
    std::string sql = "SELECT id, body_size, body_chunks FROM entry WHERE uuid = ?";
    if (for_update) sql += " FOR UPDATE";
    Statement* st = db_.prepare(sql, error);
    Params p;
    p.text(uuid);
    if (!st || !st->execute(p, error)) return std::nullopt;
    Row r;
    if (!st->fetch(&r, error)) return std::nullopt;
    st->done();
    return Found{to_u64(r[0]), to_u64(r[1]), to_u64(r[2])};
}

std::optional<Stored> DbQuery::show(const std::string& uuid, std::string* error) {
    if (error) error->clear();
    if (!db_.connect(error)) return std::nullopt;
    Statement* st = db_.prepare(
        "SELECT id, kind, UNIX_TIMESTAMP(received), queue_id, message_id, subject, client_ip, "
        "client_name, helo, sender, size, score, checks, verdict, reason, config_revision, "
        "body_size FROM entry WHERE uuid = ?",
        error);
    Params p;
    p.text(uuid);
    if (!st || !st->execute(p, error)) return std::nullopt;
    Row r;
    if (!st->fetch(&r, error)) return std::nullopt;  // none: *error stays empty
    st->done();
    Stored s;
    const std::uint64_t id = to_u64(r[0]);
    Entry& e = s.entry;
    e.uuid = uuid;
    e.kind = str(r[1]) == "archive" ? EntryKind::archive : EntryKind::quarantine;
    e.received = to_i64(r[2]);
    e.queue_id = str(r[3]);
    e.message_id = str(r[4]);
    e.subject = str(r[5]);
    e.client_ip = str(r[6]);
    e.client_name = str(r[7]);
    e.helo = str(r[8]);
    e.sender = str(r[9]);
    e.size = to_u64(r[10]);
    e.score = to_f64(r[11]);
    e.checks = str(r[12]);
    e.verdict = str(r[13]);
    e.reason = str(r[14]);
    e.config_revision = str(r[15]);
    s.body_size = to_u64(r[16]);

    Statement* rs = db_.prepare(
        "SELECT rcpt, rcpt_group, COALESCE(UNIX_TIMESTAMP(released), 0) FROM entry_rcpt "
        "WHERE entry_id = ? ORDER BY seq",
        error);
    Params q;
    q.u64(id);
    if (!rs || !rs->execute(q, error)) return std::nullopt;
    while (rs->fetch(&r, error)) {
        e.recipients.push_back(EntryRecipient{str(r[0]), str(r[1])});
        s.released.push_back(to_i64(r[2]));
    }
    if (error && !error->empty()) return std::nullopt;
    return s;
}

bool DbQuery::fetch(const std::string& uuid, const std::function<bool(std::string_view)>& sink,
                    std::string* error) {
    if (!db_.connect(error)) return false;
    auto found = find(uuid, false, error);
    if (!found) {
        if (error && error->empty()) *error = "no entry " + uuid;
        return false;
    }
    Statement* st =
        db_.prepare("SELECT data FROM entry_body WHERE entry_id = ? ORDER BY seq", error);
    Params p;
    p.u64(found->id);
    if (!st || !st->execute(p, error, /*stream=*/true)) return false;
    std::uint64_t bytes = 0, chunks = 0;
    Row r;
    while (st->fetch(&r, error)) {
        const std::string& data = r[0] ? *r[0] : std::string();
        bytes += data.size();
        ++chunks;
        if (!sink(data)) {
            st->done();
            if (error) *error = "stopped";
            return false;
        }
    }
    if (error && !error->empty()) return false;
    if (bytes != found->body_size || chunks != found->body_chunks) {
        if (error)
            *error = "the message of entry " + uuid + " is incomplete: " + std::to_string(bytes) +
                     " of " + std::to_string(found->body_size) + " bytes";
        return false;
    }
    return true;
}

std::optional<Removed> DbQuery::remove(const std::string& uuid, const std::string& recipient,
                                       std::string* error) {
    if (!db_.connect(error) || !db_.begin(error)) return std::nullopt;
    auto found = find(uuid, true, error);
    if (!found) {
        if (error && !error->empty()) return rolled_back(db_, std::optional<Removed>());
        db_.rollback();
        return Removed::nothing;
    }
    Params id;
    id.u64(found->id);
    if (!recipient.empty()) {
        const std::string key = lookup_key(recipient);
        Statement* st =
            db_.prepare("DELETE FROM entry_rcpt WHERE entry_id = ? AND rcpt_key = ?", error);
        Params p;
        p.u64(found->id).bytes(key);
        if (!st || !st->execute(p, error)) return rolled_back(db_, std::optional<Removed>());
        if (st->affected_rows() == 0) {
            db_.rollback();
            return Removed::nothing;
        }
        Statement* left = db_.prepare("SELECT COUNT(*) FROM entry_rcpt WHERE entry_id = ?", error);
        Row r;
        if (!left || !left->execute(id, error) || !left->fetch(&r, error))
            return rolled_back(db_, std::optional<Removed>());
        left->done();
        if (to_u64(r[0]) > 0) {
            if (!db_.commit(error)) return rolled_back(db_, std::optional<Removed>());
            return Removed::recipient;
        }
    }
    for (const char* sql :
         {"DELETE FROM entry_body WHERE entry_id = ?", "DELETE FROM entry_rcpt WHERE entry_id = ?",
          "DELETE FROM entry WHERE id = ?"}) {
        Statement* st = db_.prepare(sql, error);
        if (!st || !st->execute(id, error)) return rolled_back(db_, std::optional<Removed>());
    }
    if (!db_.commit(error)) return rolled_back(db_, std::optional<Removed>());
    return Removed::entry;
}

bool DbQuery::mark_released(const std::string& uuid, const std::string& recipient,
                            std::string* error) {
    if (!db_.connect(error)) return false;
    auto found = find(uuid, false, error);
    if (!found) {
        if (error && error->empty()) *error = "no entry " + uuid;
        return false;
    }
    std::string sql = "UPDATE entry_rcpt SET released = UTC_TIMESTAMP() WHERE entry_id = ?";
    std::string count = "SELECT COUNT(*) FROM entry_rcpt WHERE entry_id = ?";
    const std::string key = lookup_key(recipient);
    Params p;
    p.u64(found->id);
    if (!recipient.empty()) {
        sql += " AND rcpt_key = ?";
        count += " AND rcpt_key = ?";
        p.bytes(key);
    }
    Statement* st = db_.prepare(sql, error);
    if (!st || !st->execute(p, error)) return false;
    if (st->affected_rows() > 0) return true;
    // Nothing changed: unknown recipient, or released already within this second.
    Statement* c = db_.prepare(count, error);
    Row r;
    if (!c || !c->execute(p, error) || !c->fetch(&r, error)) return false;
    c->done();
    if (to_u64(r[0]) > 0) return true;
    if (error) *error = "entry " + uuid + " has no recipient " + recipient;
    return false;
}

namespace {

// One batch of entries of `kind` older than `cutoff`: their messages, recipients and rows in
// one transaction. The number deleted (0: none left); nullopt on failure.
std::optional<std::uint64_t> purge_entries(Db& db, const char* kind, std::int64_t cutoff,
                                           std::string* error) {
    Statement* pick = db.prepare(
        "SELECT id, body_size FROM entry WHERE kind = ? AND received < FROM_UNIXTIME(?) "
        "ORDER BY received LIMIT " +
            std::to_string(kPurgeBatch),
        error);
    Params p;
    p.text(kind).i64(cutoff);
    if (!pick || !pick->execute(p, error)) return std::nullopt;
    std::vector<std::uint64_t> ids;
    std::uint64_t bytes = 0;
    Row r;
    while (pick->fetch(&r, error)) {
        if (!ids.empty() && bytes + to_u64(r[1]) > kPurgeBatchBytes) break;
        ids.push_back(to_u64(r[0]));
        bytes += to_u64(r[1]);
    }
    pick->done();
    if (error && !error->empty()) return std::nullopt;
    if (ids.empty()) return 0;
    // Always kPurgeBatch placeholders (one prepared statement each); id 0 is never used.
    Params in;
    for (std::size_t i = 0; i < kPurgeBatch; ++i) in.u64(i < ids.size() ? ids[i] : 0);
    if (!db.begin(error)) return std::nullopt;
    const std::string list = "(" + placeholders(kPurgeBatch) + ")";
    for (const std::string& sql : {"DELETE FROM entry_body WHERE entry_id IN " + list,
                                   "DELETE FROM entry_rcpt WHERE entry_id IN " + list,
                                   "DELETE FROM entry WHERE id IN " + list}) {
        Statement* st = db.prepare(sql, error);
        if (!st || !st->execute(in, error)) return rolled_back(db, std::optional<std::uint64_t>());
    }
    if (!db.commit(error)) return rolled_back(db, std::optional<std::uint64_t>());
    return ids.size();
}

}  // namespace

std::optional<PurgeResult> purge(Db& db, std::int64_t cutoff, PurgeWhat what,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::string* error) {
    if (!db.connect(error)) return std::nullopt;
    PurgeResult result;
    auto late = [&] { return std::chrono::steady_clock::now() >= deadline; };
    for (auto [wanted, kind, count] :
         {std::tuple{what.quarantine, "quarantine", &result.quarantine},
          std::tuple{what.archive, "archive", &result.archive}}) {
        if (!wanted) continue;
        for (;;) {
            if (late()) {
                result.complete = false;
                return result;
            }
            auto n = purge_entries(db, kind, cutoff, error);
            if (!n) return std::nullopt;
            if (*n == 0) break;
            *count += *n;
        }
    }
    if (what.tracking) {
        Statement* st = db.prepare(
            "DELETE FROM tracking WHERE received < FROM_UNIXTIME(?) "
            "ORDER BY received LIMIT " +
                std::to_string(kTrackingBatch),
            error);
        if (!st) return std::nullopt;
        Params p;
        p.i64(cutoff);
        for (;;) {
            if (late()) {
                result.complete = false;
                return result;
            }
            if (!st->execute(p, error)) return std::nullopt;
            result.tracking += st->affected_rows();
            if (st->affected_rows() < kTrackingBatch) break;
        }
    }
    return result;
}

}  // namespace mpp::store
