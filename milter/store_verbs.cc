// milter/store_verbs.cc: quarantine list|show|release|delete and store on the control socket
// (see store_verbs.h), and the choice of the daemon's store.
#include "milter/store_verbs.h"

#include <ctime>
#include <optional>
#include <utility>

#include "lib/log.h"
#include "lib/quote.h"
#include "lib/units.h"
#include "store/db_query.h"
#include "store/db_target.h"
#include "store/spool_format.h"
#include "store/uuid.h"

namespace mpp::milter {
namespace {

using control::Request;
using control::Response;

constexpr const char* kQuarantineUsage =
    "quarantine list [--rcpt ADDR|@DOMAIN] [--domain DOMAIN] [--from ADDR|@DOMAIN|<>] "
    "[--subject TEXT] [--since WHEN] [--until WHEN] [--kind quarantine|archive] [--limit N] | "
    "show ID | release ID [--rcpt ADDR]... [--to ADDR] | delete ID [--rcpt ADDR]";
constexpr const char* kStoreUsage = "store";

Response ok(std::string text, std::vector<std::string> lines = {}) {
    Response r;
    r.ok = true;
    r.status_text = std::move(text);
    r.lines = std::move(lines);
    return r;
}

Response err(std::string text) {
    Response r;
    r.status_text = std::move(text);
    return r;
}

Response bad(const std::string& why) { return err(why + "; usage: " + kQuarantineUsage); }

std::string iso(std::int64_t t) {
    return format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(t)));
}

std::string addr(const std::string& a) { return "<" + store::escape(a, " ") + ">"; }

// "2026-03-01", "2026-03-01T10:00:00Z", or a duration back from `now`.
std::optional<std::int64_t> parse_when(const std::string& text, std::int64_t now) {
    if (auto d = parse_duration(text); d.ok()) return now - d.value.count();
    std::tm tm{};
    const char* end = nullptr;
    if (text.size() == 10) end = ::strptime(text.c_str(), "%Y-%m-%d", &tm);
    else if (text.size() == 20) end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) return std::nullopt;
    return static_cast<std::int64_t>(::timegm(&tm));
}

// An ID as typed: a uuid, upper case allowed.
std::optional<std::string> id_arg(const std::string& text) {
    std::string id = text;
    for (char& c : id)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!store::valid_uuid(id)) return std::nullopt;
    return id;
}

std::string strip_angles(const std::string& a) {
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>' && a != "<>")
        return a.substr(1, a.size() - 2);
    return a;
}

Response list(store::Store& st, const Clock& clock, const std::vector<std::string>& a) {
    store::Filter f;
    f.limit = kDefaultStoreListLimit;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.wall().time_since_epoch()).count();
    for (std::size_t i = 1; i < a.size(); i += 2) {
        const std::string& opt = a[i];
        if (i + 1 >= a.size()) return bad(opt + " needs a value");
        const std::string& v = a[i + 1];
        if (v.empty()) return bad(opt + " needs a value");
        if (opt == "--rcpt" || opt == "--user") f.recipient = strip_angles(v);
        else if (opt == "--domain") f.recipient = "@" + (v[0] == '@' ? v.substr(1) : v);
        else if (opt == "--from") f.sender = strip_angles(v);
        else if (opt == "--subject") f.subject = v;
        else if (opt == "--since" || opt == "--until") {
            auto t = parse_when(v, now);
            if (!t) return bad("bad " + opt + " " + quoted(v) + ": a date (2026-03-01), a time "
                               "(2026-03-01T10:00:00Z) or a duration (7d)");
            (opt == "--since" ? f.since : f.until) = *t;
        } else if (opt == "--kind") {
            if (v != "quarantine" && v != "archive") return bad("bad --kind " + quoted(v));
            f.kind = v == "archive" ? store::EntryKind::archive : store::EntryKind::quarantine;
        } else if (opt == "--limit") {
            auto n = parse_integer(v);
            if (!n.ok() || n.value < 1 || static_cast<std::size_t>(n.value) > kMaxStoreListLimit)
                return bad("bad --limit " + quoted(v) + ": expected 1.." +
                           std::to_string(kMaxStoreListLimit));
            f.limit = static_cast<std::size_t>(n.value);
        } else {
            return bad("unknown option " + quoted(opt));
        }
    }
    std::string error;
    auto q = st.query(&error);
    if (!q) return err(error);
    auto rows = q->list(f, &error);
    if (!rows) return err(error);
    std::vector<std::string> lines;
    for (const auto& r : *rows)
        lines.push_back(r.uuid + " " + iso(r.received) + " " + addr(r.recipient) +
                        " from=" + addr(r.sender) + " size=" + std::to_string(r.size) +
                        " score=" + store::format_score(r.score) + " verdict=" +
                        (r.verdict.empty() ? "-" : store::escape(r.verdict, " ")) +
                        (r.released ? " released=" + iso(r.released) : "") +
                        " subject=" + quoted(r.subject, 200));
    std::string text = std::to_string(lines.size()) + " row(s)" +
                       (lines.size() == f.limit
                            ? " (the limit; narrow the search or raise --limit)"
                            : "");
    return ok(std::move(text), std::move(lines));
}

Response show(store::Store& st, const std::string& id) {
    std::string error;
    auto q = st.query(&error);
    if (!q) return err(error);
    auto s = q->show(id, &error);
    if (!s) return err(error.empty() ? "no entry " + id : error);
    const store::Entry& e = s->entry;
    auto esc = [](const std::string& v) { return store::escape(v); };
    std::vector<std::string> l = {
        "uuid: " + e.uuid,
        std::string("kind: ") + store::kind_name(e.kind),
        "received: " + iso(e.received),
        "queue-id: " + esc(e.queue_id),
        "message-id: " + esc(e.message_id),
        "subject: " + esc(e.subject),
        "client: " + esc(e.client_name.empty() ? "unknown" : e.client_name) + " [" +
            esc(e.client_ip) + "]",
        "helo: " + esc(e.helo),
        "sender: " + addr(e.sender),
    };
    for (std::size_t i = 0; i < e.recipients.size(); ++i)
        l.push_back("recipient: " + addr(e.recipients[i].address) + " group=" +
                    esc(e.recipients[i].group) +
                    (i < s->released.size() && s->released[i]
                         ? " released=" + iso(s->released[i])
                         : std::string()));
    l.push_back("size: " + std::to_string(s->body_size));
    l.push_back("score: " + store::format_score(e.score));
    l.push_back("checks: " + esc(e.checks));
    l.push_back("verdict: " + esc(e.verdict));
    l.push_back("reason: " + esc(e.reason));
    l.push_back("config-revision: " + esc(e.config_revision));
    // The header, up to the blank line (or kShowHeaderBytes).
    std::string head;
    bool ended = false;
    std::string fetch_error;
    q->fetch(
        id,
        [&](std::string_view piece) {
            head.append(piece);
            std::size_t blank = head.find("\n\n");
            std::size_t crlf = head.find("\r\n\r\n");
            if (crlf != std::string::npos && (blank == std::string::npos || crlf < blank))
                blank = crlf + 1;
            if (blank != std::string::npos) {
                head.resize(blank + 1);
                ended = true;
            }
            return !ended && head.size() < kShowHeaderBytes;
        },
        &fetch_error);
    if (!ended && fetch_error != "stopped" && !fetch_error.empty()) {
        l.push_back("header: (" + fetch_error + ")");
    } else {
        l.push_back("header:");
        if (head.size() > kShowHeaderBytes) head.resize(kShowHeaderBytes);
        for (std::size_t pos = 0; pos < head.size();) {
            std::size_t end = head.find('\n', pos);
            if (end == std::string::npos) end = head.size();
            std::string line = head.substr(pos, end - pos);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty()) l.push_back("  " + line);
            pos = end + 1;
        }
    }
    return ok("", std::move(l));
}

Response release(store::Store& st, const std::string& id, const std::vector<std::string>& a) {
    store::ReleaseRequest req;
    req.uuid = id;
    for (std::size_t i = 2; i < a.size(); i += 2) {
        if (i + 1 >= a.size()) return bad(a[i] + " needs a value");
        if (a[i] == "--rcpt") req.recipients.push_back(strip_angles(a[i + 1]));
        else if (a[i] == "--to" && req.to.empty()) req.to = strip_angles(a[i + 1]);
        else return bad("unknown or repeated option " + quoted(a[i]));
    }
    auto r = st.release(req);
    if (!r.ok()) return err(r.error);
    std::string to;
    for (const auto& x : r.sent_to) to += (to.empty() ? "" : ",") + addr(x);
    return ok("released " + id + " to " + to + " via " + r.via);
}

Response remove(store::Store& st, const std::string& id, const std::vector<std::string>& a) {
    std::string rcpt;
    if (a.size() == 4 && a[2] == "--rcpt") rcpt = strip_angles(a[3]);
    else if (a.size() != 2) return bad("bad delete arguments");
    std::string error;
    auto q = st.query(&error);
    if (!q) return err(error);
    auto r = q->remove(id, rcpt, &error);
    if (!r) return err(error);
    switch (*r) {
        case store::Removed::nothing:
            return err(rcpt.empty() ? "no entry " + id : "no entry " + id + " for " + addr(rcpt));
        case store::Removed::recipient:
            return ok("deleted the copy of " + addr(rcpt) + " of " + id);
        case store::Removed::entry: break;
    }
    log::info("quarantine " + id + ": deleted" +
              (rcpt.empty() ? "" : " (last copy, " + addr(rcpt) + ")") + " by mppctl");
    return ok("deleted " + id);
}

Response quarantine_verb(store::Store& st, const Clock& clock, const Request& req) {
    const auto& a = req.args;
    const std::string sub = a.empty() ? "" : a[0];
    if (sub == "list") return list(st, clock, a);
    if (sub != "show" && sub != "release" && sub != "delete")
        return bad(sub.empty() ? "quarantine needs a subcommand"
                               : "unknown subcommand " + quoted(sub));
    if (a.size() < 2) return bad(sub + " needs an ID");
    auto id = id_arg(a[1]);
    if (!id) return bad("bad ID " + quoted(a[1]) + ": expected a uuid as list shows it");
    if (sub == "show") return a.size() == 2 ? show(st, *id) : bad("show takes only an ID");
    if (sub == "release") return release(st, *id, a);
    return remove(st, *id, a);
}

}  // namespace

std::vector<StoreVerb> store_verbs(store::Store& store, const Clock& clock) {
    std::vector<StoreVerb> v;
    v.push_back({"quarantine", kQuarantineUsage, [&store, &clock](const Request& req) {
                     return quarantine_verb(store, clock, req);
                 }});
    v.push_back({"store", kStoreUsage, [&store](const Request& req) {
                     if (!req.args.empty()) return err(std::string("usage: ") + kStoreUsage);
                     return ok("", store.status());
                 }});
    return v;
}

void register_store_verbs(ControlServer& server, store::Store& store) {
    static const SystemClock clock;
    for (auto& v : store_verbs(store, clock))
        server.add_verb(v.verb, std::move(v.usage), std::move(v.handler));
}

std::unique_ptr<store::Store> open_store(const config::Config& cfg, std::string* error) {
    if (cfg.store.database.empty()) return store::Store::open_maildir(cfg, error);
    auto db = store::DbSettings::from_config(cfg.store, error);
    if (!db) return nullptr;
    auto target = std::make_shared<store::DbTarget>(*db);
    return store::Store::open(
        store::Store::settings_from(cfg), target,
        [settings = *db](std::string*) -> std::shared_ptr<store::Query> {
            return std::make_shared<store::DbQuery>(settings);
        },
        error);
}

}  // namespace mpp::milter
