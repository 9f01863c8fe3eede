// store/db_target.cc: entries and tracking rows into MariaDB (see db_target.h).
#include "store/db_target.h"

#include <algorithm>
#include <vector>

#include "lib/metrics.h"
#include "lib/utf8.h"

namespace mpp::store {
namespace {

constexpr const char* kInsertEntry =
    "INSERT INTO entry (uuid, kind, received, stored, queue_id, message_id, subject, client_ip, "
    "client_name, helo, sender, sender_key, rcpt_count, size, score, checks, verdict, reason, "
    "policy_groups, config_revision) VALUES (?, ?, FROM_UNIXTIME(?), UTC_TIMESTAMP(), ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE uuid = uuid";
constexpr const char* kInsertRcpt =
    "INSERT INTO entry_rcpt (entry_id, seq, uuid, kind, received, rcpt, rcpt_key, rcpt_domain, "
    "rcpt_group, sender, sender_key, subject, size, score, verdict) VALUES (?, ?, ?, ?, "
    "FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kInsertBody = "INSERT INTO entry_body (entry_id, seq, data) VALUES (?, ?, ?)";
constexpr const char* kFinishEntry = "UPDATE entry SET body_size = ?, body_chunks = ? WHERE id = ?";
constexpr const char* kInsertTracking =
    "INSERT INTO tracking (uuid, received, queue_id, message_id, client_ip, client_name, helo, "
    "sender, sender_key, rcpt_count, size, score, scores, rbl_hits, checks, verdict, "
    "parse_result, timings, elapsed_ms, policy_groups, config_revision) VALUES (?, "
    "FROM_UNIXTIME(?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON DUPLICATE KEY UPDATE uuid = uuid";

const char* kind_text(EntryKind k) { return k == EntryKind::archive ? "archive" : "quarantine"; }

// RFC 4122 text form, lower case: 8-4-4-4-12 hex digits.
bool valid_uuid(const std::string& u) {
    if (u.size() != 36) return false;
    for (std::size_t i = 0; i < u.size(); ++i) {
        const char c = u[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::string cut(const std::string& s, std::size_t n) { return cut_utf8(s, n); }

// For the ASCII columns (client IP, verdict, revision...): printable ASCII only, so that a stray
// byte can never make the strict server refuse the row.
std::string ascii(const std::string& s, std::size_t n) {
    std::string out = s.substr(0, n);
    for (char& c : out)
        if (c < 0x20 || c > 0x7e) c = '?';
    return out;
}

// The recipients' groups, each once, in order of appearance.
std::string groups_of(const Entry& e) {
    std::vector<std::string> seen;
    for (const auto& r : e.recipients)
        if (std::find(seen.begin(), seen.end(), r.group) == seen.end()) seen.push_back(r.group);
    std::string out;
    for (const auto& g : seen) out += (out.empty() ? "" : " ") + g;
    return out;
}

// Why `e` can never be stored ("" when it can).
std::string refusal(const Entry& e) {
    if (!valid_uuid(e.uuid)) return "bad uuid \"" + cut(e.uuid, 64) + "\"";
    if (e.recipients.empty()) return "entry " + e.uuid + " has no recipients";
    if (e.recipients.size() > DbTarget::kMaxRecipients)
        return "entry " + e.uuid + " has more than " + std::to_string(DbTarget::kMaxRecipients) +
               " recipients";
    if (e.sender.size() > DbTarget::kMaxAddress) return "entry " + e.uuid + ": sender too long";
    for (const auto& r : e.recipients)
        if (r.address.size() > DbTarget::kMaxAddress)
            return "entry " + e.uuid + ": recipient too long";
    return "";
}

metrics::Metric& counter(const char* name) { return metrics::get(name); }

}  // namespace

DbTarget::DbTarget(DbSettings settings, std::uint64_t max_message)
    : db_(std::move(settings)), max_message_(max_message ? max_message : kDefaultMaxMessage) {
    for (const char* m :
         {"store-db-writes", "store-db-duplicates", "store-db-errors", "store-db-tracking"})
        counter(m);
}

bool DbTarget::ready(bool* reused, std::string* error) {
    bool fresh = false;
    if (!db_.connect(error, &fresh)) return false;
    *reused = !fresh;
    return true;
}

bool DbTarget::write(const Entry& entry, engines::MessageReader& message, std::string* error) {
    std::string why = refusal(entry);
    if (!why.empty()) {
        if (error) *error = "mariadb: " + why;
        counter("store-db-errors").inc();
        return false;
    }
    bool reused = false;
    if (!ready(&reused, &why)) {
        counter("store-db-errors").inc();
        if (error) *error = why;
        return false;
    }
    Outcome out = write_entry(entry, message, reused, &why);
    if (out == Outcome::retry) {
        // The server closed an idle connection (restart, wait_timeout): once more, fresh.
        if (!ready(&reused, &why))
            out = Outcome::failed;
        else
            out = write_entry(entry, message, false, &why);
    }
    if (out == Outcome::failed || out == Outcome::retry) {
        counter("store-db-errors").inc();
        if (error) *error = why;
        return false;
    }
    counter(out == Outcome::duplicate ? "store-db-duplicates" : "store-db-writes").inc();
    return true;
}

DbTarget::Outcome DbTarget::write_entry(const Entry& e, engines::MessageReader& message,
                                        bool reused, std::string* error) {
    bool started_reading = false;
    auto failed = [&]() {
        const bool lost = db_.lost();
        db_.rollback();
        return lost && reused && !started_reading ? Outcome::retry : Outcome::failed;
    };
    if (!db_.begin(error)) return failed();

    const std::string kind = kind_text(e.kind);
    const std::string queue_id = cut(e.queue_id, 64), message_id = cut(e.message_id, 998),
                      subject = cut(e.subject, 998), client_ip = ascii(e.client_ip, 45),
                      client_name = cut(e.client_name, 255), helo = cut(e.helo, 255),
                      sender_key = lookup_key(e.sender), checks = cut(e.checks, 4096),
                      verdict = ascii(e.verdict, 32), reason = cut(e.reason, 1024),
                      groups = cut(groups_of(e), 1024), revision = ascii(e.config_revision, 64);
    Statement* st = db_.prepare(kInsertEntry, error);
    if (!st) return failed();
    Params p;
    p.text(e.uuid)
        .text(kind)
        .i64(e.received)
        .bytes(queue_id)
        .bytes(message_id)
        .bytes(subject)
        .text(client_ip)
        .bytes(client_name)
        .bytes(helo)
        .bytes(e.sender)
        .bytes(sender_key)
        .u64(e.recipients.size())
        .u64(e.size)
        .f64(e.score)
        .bytes(checks)
        .text(verdict)
        .bytes(reason)
        .bytes(groups)
        .text(revision);
    if (!st->execute(p, error)) return failed();
    if (st->affected_rows() == 0) {  // the uuid is there: written before
        db_.rollback();
        return Outcome::duplicate;
    }
    const std::uint64_t id = st->insert_id();

    Statement* rs = db_.prepare(kInsertRcpt, error);
    if (!rs) return failed();
    for (std::size_t i = 0; i < e.recipients.size(); ++i) {
        const auto& r = e.recipients[i];
        const std::string key = lookup_key(r.address), domain = domain_key(r.address),
                          group = cut(r.group, 255);
        Params q;
        q.u64(id)
            .u64(i)
            .text(e.uuid)
            .text(kind)
            .i64(e.received)
            .bytes(r.address)
            .bytes(key)
            .bytes(domain)
            .bytes(group)
            .bytes(e.sender)
            .bytes(sender_key)
            .bytes(subject)
            .u64(e.size)
            .f64(e.score)
            .text(verdict);
        if (!rs->execute(q, error)) return failed();
    }

    Statement* bs = db_.prepare(kInsertBody, error);
    if (!bs) return failed();
    std::string chunk(kChunk, '\0');
    std::uint64_t total = 0;
    std::uint32_t chunks = 0;
    for (;;) {
        std::size_t filled = 0;
        while (filled < kChunk) {
            started_reading = true;
            std::size_t n = message.read(chunk.data() + filled, kChunk - filled);
            if (n == 0) break;
            filled += n;
        }
        if (message.failed()) {
            if (error)
                *error = "mariadb: entry " + e.uuid + ": reading the message: " + message.error();
            return failed();
        }
        if (filled == 0) break;
        total += filled;
        if (total > max_message_) {
            if (error)
                *error = "mariadb: entry " + e.uuid + ": the message is longer than " +
                         std::to_string(max_message_) + " bytes";
            return failed();
        }
        Params b;
        b.u64(id).u64(chunks).bytes(std::string_view(chunk.data(), filled));
        if (!bs->execute(b, error)) return failed();
        ++chunks;
        if (filled < kChunk) break;
    }
    Statement* fs = db_.prepare(kFinishEntry, error);
    if (!fs) return failed();
    Params f;
    f.u64(total).u64(chunks).u64(id);
    if (!fs->execute(f, error)) return failed();
    if (!db_.commit(error)) return failed();
    return Outcome::stored;
}

bool DbTarget::write_tracking(const TrackingRecord& record, std::string* error) {
    std::string why;
    if (!valid_uuid(record.uuid))
        why = "tracking record: bad uuid \"" + cut(record.uuid, 64) + "\"";
    else if (record.sender.size() > kMaxAddress)
        why = "tracking record " + record.uuid + ": sender too long";
    if (!why.empty()) {
        if (error) *error = "mariadb: " + why;
        counter("store-db-errors").inc();
        return false;
    }
    bool reused = false;
    if (!ready(&reused, &why)) {
        counter("store-db-errors").inc();
        if (error) *error = why;
        return false;
    }
    Outcome out = write_track(record, reused, &why);
    if (out == Outcome::retry) {
        if (!ready(&reused, &why))
            out = Outcome::failed;
        else
            out = write_track(record, false, &why);
    }
    if (out == Outcome::failed || out == Outcome::retry) {
        counter("store-db-errors").inc();
        if (error) *error = why;
        return false;
    }
    if (out == Outcome::stored)
        counter("store-db-tracking").inc();
    else
        counter("store-db-duplicates").inc();
    return true;
}

DbTarget::Outcome DbTarget::write_track(const TrackingRecord& t, bool reused, std::string* error) {
    Statement* st = db_.prepare(kInsertTracking, error);
    if (!st) return db_.lost() && reused ? Outcome::retry : Outcome::failed;
    const std::string queue_id = cut(t.queue_id, 64), message_id = cut(t.message_id, 998),
                      client_ip = ascii(t.client_ip, 45), client_name = cut(t.client_name, 255),
                      helo = cut(t.helo, 255), sender_key = lookup_key(t.sender),
                      scores = cut(t.scores, 1024), rbl = cut(t.rbl_hits, 1024),
                      checks = cut(t.checks, 4096), verdict = ascii(t.verdict, 32),
                      parse = ascii(t.parse_result, 64), timings = cut(t.timings, 512),
                      groups = cut(t.groups, 1024), revision = ascii(t.config_revision, 64);
    Params p;
    p.text(t.uuid)
        .i64(t.received)
        .bytes(queue_id)
        .bytes(message_id)
        .text(client_ip)
        .bytes(client_name)
        .bytes(helo)
        .bytes(t.sender)
        .bytes(sender_key)
        .u64(t.rcpt_count)
        .u64(t.size)
        .f64(t.score)
        .bytes(scores)
        .bytes(rbl)
        .bytes(checks)
        .text(verdict)
        .text(parse)
        .bytes(timings)
        .u64(t.elapsed_ms)
        .bytes(groups)
        .text(revision);
    // One statement in autocommit mode: atomic by itself.
    if (!st->execute(p, error)) return db_.lost() && reused ? Outcome::retry : Outcome::failed;
    return st->affected_rows() == 0 ? Outcome::duplicate : Outcome::stored;
}

}  // namespace mpp::store
