// t/store/db_verbs_test.cc: the control verbs `db upgrade|version` and `purge` (milter/
// db_verbs.h) over a real MariaDB, and what they say without a database.
#include <gtest/gtest.h>

#include <fstream>

#include "lib/clock.h"
#include "lib/units.h"
#include "milter/db_verbs.h"
#include "store/db_target.h"
#include "t/store/db_test_util.h"
#include "t/temp_dir.h"

namespace mpp::milter {
namespace {

using control::Request;
using control::Response;

Response call(const std::vector<DbVerb>& verbs, const std::string& verb,
              std::vector<std::string> args = {}) {
    for (const auto& v : verbs)
        if (v.verb == verb) return v.handler(Request{verb, std::move(args)});
    ADD_FAILURE() << "no verb " << verb;
    return {};
}

std::shared_ptr<config::Config> config_for(const std::string& database,
                                           const std::string& password_file) {
    auto cfg = std::make_shared<config::Config>();
    cfg->store.database = database;
    cfg->store.database_password_file = password_file;
    cfg->store.database_timeout = std::chrono::seconds(5);
    return cfg;
}

TEST(DbVerbs, WithoutADatabaseTheVerbsSaySo) {
    config::ConfigHolder holder(config_for("", ""));
    SystemClock clock;
    auto verbs = db_verbs(holder, clock);
    for (auto [verb, args] :
         {std::pair{"db", std::vector<std::string>{"upgrade"}},
          std::pair{"db", std::vector<std::string>{"version"}},
          std::pair{"purge", std::vector<std::string>{"--older-than", "30d"}}}) {
        Response r = call(verbs, verb, args);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.status_text.find("no database configured"), std::string::npos) << r.status_text;
    }
}

TEST(DbVerbs, BadArgumentsGetTheUsage) {
    config::ConfigHolder holder(config_for("", ""));
    SystemClock clock;
    auto verbs = db_verbs(holder, clock);
    const std::pair<std::vector<std::string>, const char*> purge_cases[] = {
        {{}, "purge needs --older-than"},
        {{"--older-than"}, "--older-than needs a value"},
        {{"--older-than", "30"}, "bad duration"},
        {{"--older-than", "10m"}, "at least 1h"},
        {{"--older-than", "30d", "--only", "greylist"}, "bad --only \"greylist\""},
        {{"--older-than", "30d", "--force", "x"}, "unexpected \"--force\""},
    };
    for (const auto& [args, why] : purge_cases) {
        Response r = call(verbs, "purge", args);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.status_text.find(why), std::string::npos) << r.status_text;
        EXPECT_NE(r.status_text.find("usage: purge --older-than DURATION"), std::string::npos);
    }
    for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"drop"},
                             std::vector<std::string>{"upgrade", "now"}}) {
        Response r = call(verbs, "db", args);
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.status_text.find("usage: db upgrade | version"), std::string::npos)
            << r.status_text;
    }
}

class DbVerbsTest : public testing::DbTest {
protected:
    void SetUp() override {
        testing::DbTest::SetUp();
        if (IsSkipped()) return;
        std::ofstream(dir_ / "pw") << testing::MariaDbServer::kPassword << "\n";
        holder_ = std::make_unique<config::ConfigHolder>(config_for(url(name_), dir_ / "pw"));
        verbs_ = db_verbs(*holder_, clock_);
    }
    std::string url(const std::string& database) const {
        return "mariadb://mpp@localhost/" + database + "?socket=" + server_->socket();
    }
    testing::TempDir dir_;
    FakeClock clock_;
    std::unique_ptr<config::ConfigHolder> holder_;
    std::vector<DbVerb> verbs_;
};

TEST_F(DbVerbsTest, UpgradePrintsTheVersionAndIsIdempotent) {
    holder_->replace(config_for(url(fresh_db()), dir_ / "pw"));  // a database without tables
    Response v = call(verbs_, "db", {"version"});
    ASSERT_TRUE(v.ok) << v.status_text;
    EXPECT_EQ(v.status_text, "schema version 0 (this mppd's schema: " +
                                 std::to_string(store::latest_schema_version()) +
                                 "); run mppctl db upgrade");
    Response up = call(verbs_, "db", {"upgrade"});
    ASSERT_TRUE(up.ok) << up.status_text;
    const std::string latest = std::to_string(store::latest_schema_version());
    EXPECT_EQ(up.status_text, "schema version " + latest + " (was 0)");
    ASSERT_FALSE(up.lines.empty());
    EXPECT_EQ(up.lines[0], "applied version 1");
    Response again = call(verbs_, "db", {"upgrade"});
    ASSERT_TRUE(again.ok) << again.status_text;
    EXPECT_EQ(again.status_text, "schema version " + latest + ", already current");
    EXPECT_TRUE(again.lines.empty());
}

TEST_F(DbVerbsTest, PurgeDeletesWhatIsOlderThanTheCutoff) {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.wall().time_since_epoch()).count();
    store::DbTarget target(settings());
    std::string error;
    for (unsigned i = 0; i < 4; ++i) {
        testing::TestReader reader("m");
        ASSERT_TRUE(
            target.write(testing::make_entry(i, now - (i < 3 ? 40 : 10) * 86400), reader, &error))
            << error;
        store::TrackingRecord t;
        t.uuid = testing::uuid_of(100 + i);
        t.received = now - (i < 1 ? 40 : 10) * 86400;
        ASSERT_TRUE(target.write_tracking(t, &error)) << error;
    }
    Response r = call(verbs_, "purge", {"--older-than", "30d", "--only", "tracking"});
    ASSERT_TRUE(r.ok) << r.status_text;
    EXPECT_EQ(r.lines, std::vector<std::string>{"tracking 1"});
    r = call(verbs_, "purge", {"--older-than", "30d"});
    ASSERT_TRUE(r.ok) << r.status_text;
    EXPECT_EQ(r.status_text, "purged 3 rows received before " +
                                 format_utc(clock_.wall() - std::chrono::hours(24 * 30)));
    EXPECT_EQ(r.lines, (std::vector<std::string>{"quarantine 3", "archive 0", "tracking 0"}));
    EXPECT_EQ(count("entry"), 1u);
    EXPECT_EQ(count("tracking"), 3u);
    // Time passes: the rest ages out too.
    clock_.step_wall(std::chrono::hours(24 * 30));
    r = call(verbs_, "purge", {"--older-than", "30d"});
    ASSERT_TRUE(r.ok) << r.status_text;
    EXPECT_EQ(r.lines, (std::vector<std::string>{"quarantine 1", "archive 0", "tracking 3"}));
}

TEST_F(DbVerbsTest, AnUnreachableDatabaseIsAnErrorNotAHang) {
    holder_->replace(config_for(
        "mariadb://mpp@localhost/" + name_ + "?socket=" + dir_.path + "/no.sock", dir_ / "pw"));
    Response r = call(verbs_, "db", {"upgrade"});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.status_text.find("connect: Can't connect"), std::string::npos) << r.status_text;
    r = call(verbs_, "purge", {"--older-than", "1d"});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.status_text.find("connect: "), std::string::npos) << r.status_text;
}

}  // namespace
}  // namespace mpp::milter
