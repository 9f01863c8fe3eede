// t/store/db_test_util.h: what the MariaDB store tests share: a fixture with a fresh database
// (schema loaded) on the binary's one server, entries and readers to write, and row counts.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engines/scanner.h"
#include "store/db.h"
#include "store/entry.h"
#include "store/schema.h"
#include "t/store/mariadb_server.h"

namespace mpp::testing {

// A message reader over bytes in memory, handing out at most `step` bytes a call; with
// fail_at set it fails (read() 0, failed()) once that many bytes were read.
class TestReader final : public engines::MessageReader {
public:
    explicit TestReader(std::string bytes, std::size_t step = 7000,
                        std::size_t fail_at = std::string::npos)
        : bytes_(std::move(bytes)), step_(step), fail_at_(fail_at) {}
    std::size_t read(char* out, std::size_t n) override {
        if (pos_ >= fail_at_) {
            failed_ = true;
            return 0;
        }
        n = std::min({n, step_, bytes_.size() - pos_, fail_at_ - pos_});
        std::copy_n(bytes_.data() + pos_, n, out);
        pos_ += n;
        return n;
    }
    bool failed() const override { return failed_; }
    std::string error() const override { return failed_ ? "test reader failed on purpose" : ""; }

private:
    std::string bytes_;
    std::size_t step_, fail_at_, pos_ = 0;
    bool failed_ = false;
};

// `n` bytes of every byte value, CRLF lines among them.
inline std::string binary_message(std::size_t n) {
    std::string s = "Subject: test\r\n\r\n";
    for (std::size_t i = 0; s.size() < n; ++i) {
        s += static_cast<char>((i * 7919) & 0xff);
        if (i % 77 == 0) s += "\r\n";
    }
    s.resize(n);
    return s;
}

inline std::string uuid_of(unsigned n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-0000-4000-8000-%012x", n, n);
    return buf;
}

inline store::Entry make_entry(unsigned n, std::int64_t received,
                               std::vector<std::string> recipients = {"user@example.com"},
                               std::string sender = "sender@example.org") {
    store::Entry e;
    e.uuid = uuid_of(n);
    e.kind = store::EntryKind::quarantine;
    e.received = received;
    e.queue_id = "4XyZ" + std::to_string(n);
    e.message_id = "<" + std::to_string(n) + "@example.org>";
    e.subject = "Subject " + std::to_string(n);
    e.client_ip = "192.0.2.7";
    e.client_name = "mail.example.org";
    e.helo = "mail.example.org";
    e.sender = std::move(sender);
    for (auto& r : recipients) e.recipients.push_back({std::move(r), "default"});
    e.size = 1000;
    e.score = 7.5;
    e.checks = "spamd:sa(7.5)";
    e.verdict = "quarantine";
    e.reason = "spam score 7.5";
    e.config_revision = "abc123";
    return e;
}

class DbTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server_ = shared_mariadb(&why_); }

    // A test with the schema gets the binary's one schema database (made once: DDL is slow),
    // emptied; one without gets a new empty database.
    void SetUp() override {
        if (!server_) GTEST_SKIP() << "no MariaDB server: " << why_;
        if (!with_schema_) {
            name_ = fresh_db();
            return;
        }
        name_ = "mpp_schema";
        static bool ready = false;
        std::string error;
        if (!ready) {
            ready = true;
            ASSERT_TRUE(server_->fresh_database(name_, &error)) << error;
            store::Db db(server_->settings(name_));
            ASSERT_TRUE(store::upgrade_schema(db, store::kSchemaSql, &error)) << error;
            return;
        }
        for (const char* table : {"entry", "entry_rcpt", "entry_body", "tracking"})
            scalar(std::string("DELETE FROM ") + table);
    }

    // A new database without tables: "mpp_tN".
    std::string fresh_db() {
        static unsigned counter = 0;
        std::string name = "mpp_t" + std::to_string(++counter), error;
        EXPECT_TRUE(server_->fresh_database(name, &error)) << error;
        return name;
    }

    // The first column of the first row of `sql`, run as root in this test's database.
    std::string scalar(const std::string& sql) {
        auto s = server_->root_settings();
        s.url.database = name_;
        store::Db root(s);
        std::string error;
        std::vector<store::Row> rows;
        if (!root.connect(&error) || !root.query(sql, &rows, &error)) {
            ADD_FAILURE() << error;
            return "";
        }
        return rows.empty() || rows[0].empty() || !rows[0][0] ? "" : *rows[0][0];
    }
    std::uint64_t count(const std::string& table) {
        return std::stoull("0" + scalar("SELECT COUNT(*) FROM " + table));
    }

    store::DbSettings settings(bool tcp = false) const { return server_->settings(name_, tcp); }

    static inline MariaDbServer* server_ = nullptr;
    static inline std::string why_;
    std::string name_;
    bool with_schema_ = true;
};

}  // namespace mpp::testing
