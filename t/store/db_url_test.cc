// t/store/db_url_test.cc: the <store database> URL, the password file and lookup keys (no
// server needed).
#include <gtest/gtest.h>

#include <fstream>

#include "store/db.h"
#include "t/temp_dir.h"

namespace mpp::store {
namespace {

TEST(DbUrl, ParsesHostPortAndDatabase) {
    std::string error;
    auto u = DbUrl::parse("mariadb://mpp@db.example.com:3307/mail_q", &error);
    ASSERT_TRUE(u) << error;
    EXPECT_EQ(u->user, "mpp");
    EXPECT_EQ(u->host, "db.example.com");
    EXPECT_EQ(u->port, 3307u);
    EXPECT_EQ(u->database, "mail_q");
    EXPECT_EQ(u->socket, "");
    EXPECT_EQ(u->display(), "mariadb://mpp@db.example.com:3307/mail_q");
}

TEST(DbUrl, DefaultPortSocketAndIpv6) {
    std::string error;
    auto u = DbUrl::parse("mysql://mpp@localhost/mpp?socket=/run/mysqld/mysqld.sock", &error);
    ASSERT_TRUE(u) << error;
    EXPECT_EQ(u->port, 0u);
    EXPECT_EQ(u->socket, "/run/mysqld/mysqld.sock");
    EXPECT_EQ(u->display(), "mariadb://mpp@localhost/mpp?socket=/run/mysqld/mysqld.sock");
    auto v6 = DbUrl::parse("mariadb://mpp@[2001:db8::5]:3306/mpp", &error);
    ASSERT_TRUE(v6) << error;
    EXPECT_EQ(v6->host, "2001:db8::5");
    EXPECT_EQ(v6->port, 3306u);
    EXPECT_EQ(v6->display(), "mariadb://mpp@[2001:db8::5]:3306/mpp");
}

TEST(DbUrl, RefusesMalformedUrlsWithTheReason) {
    const std::pair<const char*, const char*> cases[] = {
        {"postgres://mpp@h/db", "unknown scheme"},
        {"mariadb://h/db", "missing USER@"},
        {"mariadb://mpp:secret@h/db", "password does not belong"},
        {"mariadb://mpp@h", "missing /DATABASE"},
        {"mariadb://mpp@h/", "missing database name"},
        {"mariadb://mpp@h/my-db", "bad database name"},
        {"mariadb://mpp@h:0/db", "bad port"},
        {"mariadb://mpp@h:65536/db", "bad port"},
        {"mariadb://mpp@h:33x/db", "bad port"},
        {"mariadb://mpp@h:/db", "empty port"},
        {"mariadb://mpp@/db", "missing host"},
        {"mariadb://mpp@h st/db", "bad host"},
        {"mariadb://mpp@[::1/db", "unclosed ["},
        {"mariadb://mpp@h/db?ssl=1", "only option"},
        {"mariadb://mpp@h/db?socket=relative", "absolute path"},
        {"mariadb://mpp@h:3306/db?socket=/s", "exclude each other"},
        {"mariadb://m pp@h/db", "bad user"},
    };
    for (const auto& [url, why] : cases) {
        std::string error;
        EXPECT_FALSE(DbUrl::parse(url, &error)) << url;
        EXPECT_NE(error.find(why), std::string::npos) << url << ": " << error;
        EXPECT_NE(error.find("expected mariadb://USER@HOST"), std::string::npos) << error;
    }
}

TEST(DbSettings, ReadsThePasswordFileAndNeverShowsIt) {
    testing::TempDir dir;
    { std::ofstream(dir / "pw") << "t0p-secret\r\nsecond line ignored\n"; }
    config::StoreCfg cfg;
    cfg.database = "mariadb://mpp@127.0.0.1:1/mpp";
    cfg.database_password_file = dir / "pw";
    cfg.database_timeout = std::chrono::seconds(2);
    std::string error;
    auto s = DbSettings::from_config(cfg, &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->password, "t0p-secret");
    EXPECT_EQ(s->timeout, std::chrono::seconds(2));
    // A failing connection (nothing listens on port 1) names the server, not the password.
    Db db(*s);
    EXPECT_FALSE(db.connect(&error));
    EXPECT_NE(error.find("mariadb mariadb://mpp@127.0.0.1:1/mpp: connect: "), std::string::npos)
        << error;
    EXPECT_EQ(error.find("t0p-secret"), std::string::npos) << error;

    cfg.database_password_file = dir / "missing";
    EXPECT_FALSE(DbSettings::from_config(cfg, &error));
    EXPECT_NE(error.find("cannot read database-password-file"), std::string::npos) << error;
    cfg.database.clear();
    EXPECT_FALSE(DbSettings::from_config(cfg, &error));
    EXPECT_NE(error.find("no database configured"), std::string::npos) << error;
}

TEST(LookupKey, LowerCasesAsciiOnlyAndCutsWholeCharacters) {
    EXPECT_EQ(lookup_key("User.Name@Example.COM"), "user.name@example.com");
    EXPECT_EQ(lookup_key("\xC3\x89T\xC3\xA9@x"), "\xC3\x89t\xC3\xA9@x");  // UTF-8 untouched
    EXPECT_EQ(domain_key("a@b@Sub.Example.com"), "sub.example.com");
    EXPECT_EQ(domain_key("postmaster"), "");
    EXPECT_EQ(domain_key(""), "");
    std::string long_key(254, 'a');
    long_key += "\xC3\xA9";  // a two-byte character across the 255-byte cut
    EXPECT_EQ(lookup_key(long_key), std::string(254, 'a'));
}

TEST(ConnectionLost, ClassifiesClientAndShutdownErrors) {
    EXPECT_TRUE(connection_lost(2006));  // server gone
    EXPECT_TRUE(connection_lost(2013));  // lost during query
    EXPECT_TRUE(connection_lost(2002));  // can't connect (socket)
    EXPECT_TRUE(connection_lost(1053));  // server shutdown
    EXPECT_TRUE(connection_lost(1927));  // connection killed
    EXPECT_FALSE(connection_lost(1062));  // duplicate key
    EXPECT_FALSE(connection_lost(1146));  // no such table
    EXPECT_FALSE(connection_lost(1213));  // deadlock: the connection lives on
}

}  // namespace
}  // namespace mpp::store
