// milter/db_verbs.cc: db upgrade|version and purge on the control socket (see db_verbs.h).
#include "milter/db_verbs.h"

#include <optional>
#include <utility>

#include "lib/log.h"
#include "lib/units.h"
#include "store/db_query.h"
#include "store/schema.h"

namespace mpp::milter {
namespace {

using control::Request;
using control::Response;

constexpr const char* kDbUsage = "db upgrade | version";
constexpr const char* kPurgeUsage =
    "purge --older-than DURATION [--only quarantine|archive|tracking]";

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

Response bad(const std::string& why, const char* usage) { return err(why + "; usage: " + usage); }

// The current snapshot's database settings; nullopt and *error ("no database configured...").
std::optional<store::DbSettings> settings(const config::ConfigHolder& holder, std::string* error) {
    return store::DbSettings::from_config(holder.current()->store, error);
}

Response db_verb(const config::ConfigHolder& holder, const Request& req) {
    const auto& a = req.args;
    if (a.size() != 1 || (a[0] != "upgrade" && a[0] != "version"))
        return bad(a.empty() ? "db needs a subcommand" : "bad db arguments", kDbUsage);
    std::string error;
    auto s = settings(holder, &error);
    if (!s) return err(error);
    store::Db db(std::move(*s));
    const int known = store::latest_schema_version();
    if (a[0] == "version") {
        auto v = store::database_version(db, &error);
        if (!v) return err(error);
        return ok("schema version " + std::to_string(*v) + " (this mppd's schema: " +
                  std::to_string(known) + ")" + (*v < known ? "; run mppctl db upgrade" : ""));
    }
    auto result = store::upgrade_schema(db, store::kSchemaSql, &error);
    if (!result) {
        log::error(log::cat("db upgrade failed: ", error));
        return err(error);
    }
    std::vector<std::string> lines;
    for (int v : result->applied) lines.push_back("applied version " + std::to_string(v));
    if (result->applied.empty())
        return ok("schema version " + std::to_string(result->to) + ", already current");
    log::notice(log::cat("db upgrade: ", db.settings().url.display(), " schema version ",
                         result->from, " -> ", result->to));
    return ok("schema version " + std::to_string(result->to) + " (was " +
                  std::to_string(result->from) + ")",
              std::move(lines));
}

Response purge_verb(const config::ConfigHolder& holder, const Clock& clock, const Request& req) {
    const auto& a = req.args;
    std::optional<std::chrono::seconds> age;
    store::PurgeWhat what;
    for (std::size_t i = 0; i < a.size(); i += 2) {
        if (i + 1 >= a.size()) return bad(a[i] + " needs a value", kPurgeUsage);
        if (a[i] == "--older-than" && !age) {
            auto d = parse_duration(a[i + 1]);
            if (!d.ok()) return bad(d.error, kPurgeUsage);
            if (d.value < kMinPurgeAge)
                return bad("--older-than must be at least " + format_duration(kMinPurgeAge),
                           kPurgeUsage);
            age = d.value;
        } else if (a[i] == "--only") {
            const std::string& t = a[i + 1];
            if (t != "quarantine" && t != "archive" && t != "tracking")
                return bad("bad --only \"" + t + "\"", kPurgeUsage);
            what = store::PurgeWhat{t == "quarantine", t == "archive", t == "tracking"};
        } else {
            return bad("unexpected \"" + a[i] + "\"", kPurgeUsage);
        }
    }
    if (!age) return bad("purge needs --older-than", kPurgeUsage);
    std::string error;
    auto s = settings(holder, &error);
    if (!s) return err(error);
    store::Db db(std::move(*s));
    const auto cutoff_time = clock.wall() - *age;
    const std::int64_t cutoff =
        std::chrono::duration_cast<std::chrono::seconds>(cutoff_time.time_since_epoch()).count();
    auto result =
        store::purge(db, cutoff, what, std::chrono::steady_clock::now() + kPurgeBudget, &error);
    if (!result) {
        log::error(log::cat("purge failed: ", error));
        return err(error);
    }
    const std::uint64_t total = result->quarantine + result->archive + result->tracking;
    std::vector<std::string> lines;
    if (what.quarantine) lines.push_back("quarantine " + std::to_string(result->quarantine));
    if (what.archive) lines.push_back("archive " + std::to_string(result->archive));
    if (what.tracking) lines.push_back("tracking " + std::to_string(result->tracking));
    std::string text =
        "purged " + std::to_string(total) + " rows received before " + format_utc(cutoff_time);
    if (!result->complete) text += "; more remain: run purge again";
    log::notice(log::cat("purge: ", result->quarantine, " quarantine and ", result->archive,
                         " archive entries, ", result->tracking, " tracking rows received before ",
                         format_utc(cutoff_time), result->complete ? "" : " (more remain)"));
    return ok(std::move(text), std::move(lines));
}

}  // namespace

std::vector<DbVerb> db_verbs(const config::ConfigHolder& holder, const Clock& clock) {
    std::vector<DbVerb> v;
    v.push_back({"db", kDbUsage, [&holder](const Request& r) { return db_verb(holder, r); }});
    v.push_back({"purge", kPurgeUsage,
                 [&holder, &clock](const Request& r) { return purge_verb(holder, clock, r); }});
    return v;
}

void register_db_verbs(ControlServer& server, const config::ConfigHolder& holder) {
    static const SystemClock clock;
    for (auto& v : db_verbs(holder, clock))
        server.add_verb(v.verb, std::move(v.usage), std::move(v.handler));
}

}  // namespace mpp::milter
