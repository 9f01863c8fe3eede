// t/store/db_target_test.cc: DbTarget against a real MariaDB: an entry with its recipients and
// message in one transaction, idempotent by uuid, the message byte-identical, hostile values
// round-tripping, bounds, and the database going away and coming back.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <thread>

#include "lib/metrics.h"
#include "store/db_query.h"
#include "store/db_target.h"
#include "t/store/db_test_util.h"

namespace mpp::store {
namespace {

using testing::binary_message;
using testing::make_entry;
using testing::TestReader;

constexpr std::int64_t kNow = 1790000000;

class DbTargetTest : public testing::DbTest {
protected:
    std::string fetch(const std::string& uuid) {
        DbQuery q(settings());
        std::string out, error;
        EXPECT_TRUE(q.fetch(
            uuid,
            [&](std::string_view piece) {
                out += piece;
                return true;
            },
            &error))
            << error;
        return out;
    }
};

TEST_F(DbTargetTest, WritesEntryRecipientsAndMessageInOneGo) {
    DbTarget target(settings());
    EXPECT_STREQ(target.name(), "mariadb");
    auto e = make_entry(1, kNow, {"Alice@Example.COM", "bob@example.com", "carol@other.example"});
    e.recipients[2].group = "sales";
    const std::string message = binary_message(DbTarget::kChunk * 2 + 12345);  // three chunks
    TestReader reader(message);
    std::string error;
    ASSERT_TRUE(target.write(e, reader, &error)) << error;

    EXPECT_EQ(count("entry"), 1u);
    EXPECT_EQ(count("entry_rcpt"), 3u);
    EXPECT_EQ(count("entry_body"), 3u);
    EXPECT_EQ(scalar("SELECT CONCAT_WS('|', kind, received, queue_id, client_ip, helo, sender, "
                     "sender_key, rcpt_count, size, body_size, body_chunks, score, verdict, "
                     "policy_groups, config_revision) FROM entry"),
              "quarantine|2026-09-21 14:13:20|4XyZ1|192.0.2.7|mail.example.org|"
              "sender@example.org|sender@example.org|3|1000|" +
                  std::to_string(message.size()) + "|3|7.5|quarantine|default sales|abc123");
    EXPECT_EQ(scalar("SELECT GROUP_CONCAT(CONCAT_WS(',', rcpt, rcpt_key, rcpt_domain, rcpt_group) "
                     "ORDER BY seq SEPARATOR ' ') FROM entry_rcpt"),
              "Alice@Example.COM,alice@example.com,example.com,default "
              "bob@example.com,bob@example.com,example.com,default "
              "carol@other.example,carol@other.example,other.example,sales");
    EXPECT_EQ(fetch(e.uuid), message);

    DbQuery q(settings());
    auto shown = q.show(e.uuid, &error);
    ASSERT_TRUE(shown) << error;
    EXPECT_EQ(shown->entry.received, kNow);
    EXPECT_EQ(shown->entry.subject, "Subject 1");
    EXPECT_EQ(shown->entry.message_id, "<1@example.org>");
    EXPECT_EQ(shown->entry.recipients.size(), 3u);
    EXPECT_EQ(shown->entry.recipients[0].address, "Alice@Example.COM");
    EXPECT_EQ(shown->entry.recipients[2].group, "sales");
    EXPECT_EQ(shown->body_size, message.size());
}

TEST_F(DbTargetTest, TheSameUuidTwiceIsStoredOnce) {
    DbTarget target(settings());
    auto e = make_entry(2, kNow);
    const auto writes = metrics::get("store-db-writes").get();
    const auto duplicates = metrics::get("store-db-duplicates").get();
    std::string error;
    TestReader first("first message\r\n");
    ASSERT_TRUE(target.write(e, first, &error)) << error;
    // The drainer crashed before unlinking: the same entry comes again.
    TestReader second("first message\r\n");
    ASSERT_TRUE(target.write(e, second, &error)) << error;
    // Even from a second drainer connection.
    DbTarget other(settings());
    TestReader third("first message\r\n");
    ASSERT_TRUE(other.write(e, third, &error)) << error;
    EXPECT_EQ(count("entry"), 1u);
    EXPECT_EQ(count("entry_rcpt"), 1u);
    EXPECT_EQ(count("entry_body"), 1u);
    EXPECT_EQ(metrics::get("store-db-writes").get(), writes + 1);
    EXPECT_EQ(metrics::get("store-db-duplicates").get(), duplicates + 2);
}

TEST_F(DbTargetTest, HostileValuesRoundTripExactly) {
    DbTarget target(settings());
    const std::string sender = "x'); DROP TABLE entry;--@example.com";
    auto e = make_entry(3, kNow, {"\"quoted \\\\ local\"@example.com"}, sender);
    e.subject = std::string(
        "quotes ' \" back\\slash NUL\0here bad\xff\xfe utf8 emoji \xF0\x9F\x98\x80", 62);
    e.message_id = "<a'b\"c@x>";
    e.helo = "helo\\'";
    e.reason = std::string("reason\0with NUL", 15);
    TestReader reader(std::string("\0\r\n.\r\n\xff", 7));
    std::string error;
    ASSERT_TRUE(target.write(e, reader, &error)) << error;
    DbQuery q(settings());
    auto s = q.show(e.uuid, &error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(s->entry.sender, sender);
    EXPECT_EQ(s->entry.subject, e.subject);
    EXPECT_EQ(s->entry.message_id, e.message_id);
    EXPECT_EQ(s->entry.helo, e.helo);
    EXPECT_EQ(s->entry.reason, e.reason);
    EXPECT_EQ(s->entry.recipients[0].address, e.recipients[0].address);
    EXPECT_EQ(fetch(e.uuid), std::string("\0\r\n.\r\n\xff", 7));
    EXPECT_EQ(count("entry"), 1u);  // the table is still there
    Filter f;
    f.sender = sender;
    auto listed = q.list(f, &error);
    ASSERT_TRUE(listed) << error;
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->at(0).subject, e.subject);
}

TEST_F(DbTargetTest, LongTextsAreCutAtColumnWidthsOnWholeCharacters) {
    DbTarget target(settings());
    auto e = make_entry(4, kNow);
    e.subject = std::string(997, 's') + "\xC3\xA9";  // 999 bytes; the cut may not split the é
    e.client_ip = "192.0.2.\x01";
    TestReader reader("m");
    std::string error;
    ASSERT_TRUE(target.write(e, reader, &error)) << error;
    EXPECT_EQ(scalar("SELECT LENGTH(subject) FROM entry"), "997");
    EXPECT_EQ(scalar("SELECT client_ip FROM entry"), "192.0.2.?");
}

TEST_F(DbTargetTest, RefusesWhatCanNeverFitAndStoresNothing) {
    DbTarget target(settings(), /*max_message=*/1000);
    std::string error;
    auto e = make_entry(5, kNow);
    TestReader big(std::string(1001, 'x'), 100);
    EXPECT_FALSE(target.write(e, big, &error));
    EXPECT_NE(error.find("longer than 1000 bytes"), std::string::npos) << error;
    TestReader exact(std::string(1000, 'x'));
    EXPECT_TRUE(target.write(make_entry(6, kNow), exact, &error)) << error;

    auto bad_uuid = make_entry(7, kNow);
    bad_uuid.uuid = "NOT-A-UUID";
    TestReader r1("m");
    EXPECT_FALSE(target.write(bad_uuid, r1, &error));
    EXPECT_NE(error.find("bad uuid"), std::string::npos) << error;
    auto no_rcpt = make_entry(8, kNow, {});
    TestReader r2("m");
    EXPECT_FALSE(target.write(no_rcpt, r2, &error));
    EXPECT_NE(error.find("has no recipients"), std::string::npos) << error;
    auto long_sender = make_entry(9, kNow, {"a@b"}, std::string(3000, 'a') + "@example.com");
    TestReader r3("m");
    EXPECT_FALSE(target.write(long_sender, r3, &error));
    EXPECT_NE(error.find("sender too long"), std::string::npos) << error;

    // A reader that fails half-way (the spool file went bad) rolls everything back.
    TestReader failing(std::string(900, 'y'), 100, 500);
    EXPECT_FALSE(target.write(make_entry(10, kNow), failing, &error));
    EXPECT_NE(error.find("test reader failed on purpose"), std::string::npos) << error;

    EXPECT_EQ(count("entry"), 1u);
    EXPECT_EQ(count("entry_rcpt"), 1u);
    EXPECT_EQ(count("entry_body"), 1u);
}

TEST_F(DbTargetTest, WorksOverTcpWithThePasswordAndRefusesAWrongOne) {
    DbTarget target(settings(/*tcp=*/true));
    TestReader reader("over tcp");
    std::string error;
    ASSERT_TRUE(target.write(make_entry(11, kNow), reader, &error)) << error;
    auto wrong = settings(true);
    wrong.password = "wrong";
    DbTarget refused(wrong);
    TestReader r2("x");
    EXPECT_FALSE(refused.write(make_entry(12, kNow), r2, &error));
    EXPECT_NE(error.find("Access denied"), std::string::npos) << error;
    EXPECT_EQ(error.find("wrong"), std::string::npos) << error;
    EXPECT_EQ(count("entry"), 1u);
}

TEST_F(DbTargetTest, TrackingRowsAreIdempotentToo) {
    DbTarget target(settings());
    TrackingRecord t;
    t.uuid = testing::uuid_of(20);
    t.received = kNow;
    t.queue_id = "4Abc";
    t.message_id = "<t@x>";
    t.client_ip = "2001:db8::1";
    t.helo = "h";
    t.sender = "Someone@Example.org";
    t.rcpt_count = 2;
    t.size = 5000;
    t.score = 3.25;
    t.scores = "sa=3.25 clam=clean";
    t.rbl_hits = "zen(6)";
    t.verdict = "accept";
    t.parse_result = "ok";
    t.timings = "eom=12 sa=10";
    t.elapsed_ms = 15;
    t.groups = "default";
    t.config_revision = "abc123";
    std::string error;
    ASSERT_TRUE(target.write_tracking(t, &error)) << error;
    ASSERT_TRUE(target.write_tracking(t, &error)) << error;
    EXPECT_EQ(count("tracking"), 1u);
    EXPECT_EQ(scalar("SELECT CONCAT_WS('|', received, client_ip, sender_key, rcpt_count, scores, "
                     "rbl_hits, verdict, parse_result, timings, elapsed_ms) FROM tracking"),
              "2026-09-21 14:13:20|2001:db8::1|someone@example.org|2|sa=3.25 clam=clean|zen(6)|"
              "accept|ok|eom=12 sa=10|15");
    t.uuid = "bad";
    EXPECT_FALSE(target.write_tracking(t, &error));
    EXPECT_NE(error.find("bad uuid"), std::string::npos) << error;
}

TEST_F(DbTargetTest, WithoutTheSchemaTheErrorSaysSo) {
    DbTarget target(server_->settings(fresh_db()));
    TestReader reader("m");
    std::string error;
    EXPECT_FALSE(target.write(make_entry(30, kNow), reader, &error));
    EXPECT_NE(error.find("is the schema loaded? (mppctl db upgrade)"), std::string::npos) << error;
}

// The outage: the server stops while the drainer holds a connection, then comes back. The
// test restarts the binary's shared server; it leaves it running.
TEST_F(DbTargetTest, ServerStoppedWriteFailsThenSucceedsAfterRestart) {
    DbTarget target(settings());
    std::string error;
    TestReader r1("before");
    ASSERT_TRUE(target.write(make_entry(40, kNow), r1, &error)) << error;

    server_->stop();
    TestReader r2("during");
    auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(target.write(make_entry(41, kNow), r2, &error));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
    EXPECT_NE(error.find("mariadb mariadb://mpp@localhost/" + name_), std::string::npos) << error;
    EXPECT_NE(error.find("connect: Can't connect"), std::string::npos) << error;
    TestReader r3("during");
    EXPECT_FALSE(target.write(make_entry(41, kNow), r3, &error));  // still down: still false

    ASSERT_TRUE(server_->start(&error)) << error;
    TestReader r4("during");
    ASSERT_TRUE(target.write(make_entry(41, kNow), r4, &error)) << error;
    EXPECT_EQ(count("entry"), 2u);

    // Restarted while the connection sat idle: the next write reconnects by itself.
    server_->stop();
    ASSERT_TRUE(server_->start(&error)) << error;
    TestReader r5("after");
    ASSERT_TRUE(target.write(make_entry(42, kNow), r5, &error)) << error;
    TrackingRecord t;
    t.uuid = testing::uuid_of(43);
    server_->stop();
    ASSERT_TRUE(server_->start(&error)) << error;
    ASSERT_TRUE(target.write_tracking(t, &error)) << error;
    EXPECT_EQ(count("entry"), 3u);
    EXPECT_EQ(fetch(testing::uuid_of(41)), "during");
}

// The server stops answering on an open connection (packets dropped): the read timeout ends
// the write, and once it answers again the next write reconnects and goes through.
TEST_F(DbTargetTest, AServerThatStopsAnsweringTimesOutThenRecovers) {
    auto s = settings();
    s.timeout = std::chrono::seconds(1);
    DbTarget target(s);
    std::string error;
    TestReader r1("before");
    ASSERT_TRUE(target.write(make_entry(60, kNow), r1, &error)) << error;
    server_->freeze();
    TestReader r2("frozen");
    auto started = std::chrono::steady_clock::now();
    const bool stored = target.write(make_entry(61, kNow), r2, &error);
    auto took = std::chrono::steady_clock::now() - started;
    server_->thaw();
    EXPECT_FALSE(stored);
    EXPECT_GE(took, std::chrono::milliseconds(900));
    EXPECT_LT(took, std::chrono::seconds(5));
    EXPECT_NE(error.find("(errno 2013)"), std::string::npos) << error;  // lost during the query
    TestReader r3("thawed");
    ASSERT_TRUE(target.write(make_entry(61, kNow), r3, &error)) << error;
    EXPECT_EQ(count("entry"), 2u);
}

// A server that accepts the TCP connection and never answers (packets dropped further on):
// the connect timeout ends the wait, with a clear error.
TEST_F(DbTargetTest, AServerThatNeverAnswersTimesOut) {
    Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listener.get(), 8), 0);
    ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    auto s = settings(true);
    s.url.port = ntohs(a.sin_port);
    s.timeout = std::chrono::seconds(1);
    DbTarget target(s);
    TestReader reader("m");
    std::string error;
    auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(target.write(make_entry(50, kNow), reader, &error));
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_GE(took, std::chrono::milliseconds(900));
    EXPECT_LT(took, std::chrono::seconds(4));
    EXPECT_NE(error.find("connect: "), std::string::npos) << error;
}

}  // namespace
}  // namespace mpp::store
