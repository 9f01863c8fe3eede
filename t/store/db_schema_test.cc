// t/store/db_schema_test.cc: etc/schema.sql's versions, and `db upgrade` against a real
// MariaDB: applies them in order, is idempotent, refuses a newer database.
#include <gtest/gtest.h>

#include "store/schema.h"
#include "t/store/db_test_util.h"

namespace mpp::store {
namespace {

TEST(SchemaParse, TheShippedSchemaIsWellFormed) {
    std::string error;
    auto v = parse_schema(kSchemaSql, &error);
    ASSERT_TRUE(v) << error;
    ASSERT_GE(v->size(), 1u);
    EXPECT_EQ(v->front().version, 1);
    EXPECT_EQ(latest_schema_version(), v->back().version);
    // Each version records itself (the upgrade checks it, a manual load needs it).
    for (const auto& version : *v)
        EXPECT_NE(version.statements.back().find("INSERT IGNORE INTO schema_version"),
                  std::string::npos);
}

TEST(SchemaParse, RefusesMalformedSchemasWithTheLine) {
    const std::pair<const char*, const char*> cases[] = {
        {"CREATE TABLE x (a INT);\n", "line 1: SQL before the first"},
        {"-- version: 2\nSELECT 1;\n", "line 1: version 2 where 1 was expected"},
        {"-- version: 1\nSELECT 1;\n-- version: 3\nSELECT 1;\n", "line 3: version 3 where 2"},
        {"-- version: 1\n-- version: 2\nSELECT 1;\n", "version 1 has no statements"},
        {"-- version: 1\nSELECT\n  1\n", "line 2: statement without a final ';'"},
        {"-- version: x\n", "bad version number"},
        {"-- comment only\n", "no \"-- version: 1\" line"},
    };
    for (const auto& [text, why] : cases) {
        std::string error;
        EXPECT_FALSE(parse_schema(text, &error)) << text;
        EXPECT_NE(error.find(why), std::string::npos) << text << "\n" << error;
    }
    std::string error;
    auto ok = parse_schema("-- c\n-- version: 1\nCREATE TABLE t (\n  a INT -- x\n);\n\nSELECT 1;\n",
                           &error);
    ASSERT_TRUE(ok) << error;
    ASSERT_EQ(ok->at(0).statements.size(), 2u);
    EXPECT_EQ(ok->at(0).statements[0], "CREATE TABLE t (\na INT -- x\n)");
}

class DbSchemaTest : public testing::DbTest {
protected:
    DbSchemaTest() { with_schema_ = false; }
};

TEST_F(DbSchemaTest, UpgradeAppliesTheSchemaOnceAndIsIdempotent) {
    Db db(settings());
    std::string error;
    auto v0 = database_version(db, &error);
    ASSERT_TRUE(v0) << error;
    EXPECT_EQ(*v0, 0);

    auto first = upgrade_schema(db, kSchemaSql, &error);
    ASSERT_TRUE(first) << error;
    EXPECT_EQ(first->from, 0);
    EXPECT_EQ(first->to, latest_schema_version());
    EXPECT_EQ(first->applied.size(), static_cast<std::size_t>(latest_schema_version()));
    for (const char* table : {"entry", "entry_rcpt", "entry_body", "tracking"})
        EXPECT_EQ(count(table), 0u) << table;

    auto again = upgrade_schema(db, kSchemaSql, &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(again->from, latest_schema_version());
    EXPECT_TRUE(again->applied.empty());
    EXPECT_EQ(count("schema_version"), static_cast<std::uint64_t>(latest_schema_version()));
}

TEST_F(DbSchemaTest, AnInterruptedVersionIsFinishedByRunningItAgain) {
    // Version 1 half applied (one table made by hand, no schema_version row): the upgrade runs
    // the whole version again without tripping over what is there.
    Db db(settings());
    std::string error;
    ASSERT_TRUE(db.connect(&error)) << error;
    ASSERT_TRUE(
        db.exec("CREATE TABLE schema_version (version INT UNSIGNED NOT NULL PRIMARY KEY, "
                "description VARCHAR(200) NOT NULL, applied TIMESTAMP NOT NULL DEFAULT "
                "CURRENT_TIMESTAMP)",
                &error))
        << error;
    auto r = upgrade_schema(db, kSchemaSql, &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->from, 0);
    EXPECT_EQ(r->to, latest_schema_version());
}

TEST_F(DbSchemaTest, LaterVersionsApplyInOrderAndANewerDatabaseIsRefused) {
    Db db(settings());
    std::string error;
    ASSERT_TRUE(upgrade_schema(db, kSchemaSql, &error)) << error;
    const int n = latest_schema_version();
    const std::string next = std::string(kSchemaSql) + "\n-- version: " + std::to_string(n + 1) +
                             "\nCREATE TABLE IF NOT EXISTS extra (a INT);\n"
                             "INSERT IGNORE INTO schema_version (version, description) VALUES (" +
                             std::to_string(n + 1) + ", 'extra');\n";
    auto r = upgrade_schema(db, next, &error);
    ASSERT_TRUE(r) << error;
    ASSERT_EQ(r->applied, std::vector<int>{n + 1});
    EXPECT_EQ(count("extra"), 0u);

    // This mppd's schema is older than the database's now.
    EXPECT_FALSE(upgrade_schema(db, kSchemaSql, &error));
    EXPECT_NE(error.find("is newer than this mppd knows"), std::string::npos) << error;

    // A version that forgets to record itself is an error, not a silent success.
    const std::string forgetful = next + "\n-- version: " + std::to_string(n + 2) + "\nSELECT 1;\n";
    EXPECT_FALSE(upgrade_schema(db, forgetful, &error));
    EXPECT_NE(error.find("did not record itself"), std::string::npos) << error;
}

TEST_F(DbSchemaTest, AFailingStatementNamesItsVersionAndTheServerError) {
    Db db(settings());
    std::string error;
    EXPECT_FALSE(upgrade_schema(db, "-- version: 1\nCREATE TABLE broken (;\n", &error));
    EXPECT_NE(error.find("version 1: mariadb "), std::string::npos) << error;
    EXPECT_NE(error.find("errno 1064"), std::string::npos) << error;  // syntax error
}

}  // namespace
}  // namespace mpp::store
