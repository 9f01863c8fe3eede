// t/store/db_query_test.cc: the admin queries over a real MariaDB: list a domain's or a user's
// quarantine by date, search by sender, subject and date range, show, fetch, remove, release
// marks, and purge by age in batches.
#include <gtest/gtest.h>

#include "store/db_query.h"
#include "store/db_target.h"
#include "t/store/db_test_util.h"

namespace mpp::store {
namespace {

using testing::make_entry;
using testing::TestReader;
using testing::uuid_of;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1790000000;

class DbQueryTest : public testing::DbTest {
protected:
    void write(const Entry& e, const std::string& message = "message\r\n") {
        if (!target_) target_ = std::make_unique<DbTarget>(settings());
        TestReader reader(message);
        std::string error;
        ASSERT_TRUE(target_->write(e, reader, &error)) << error;
    }
    std::vector<std::string> uuids(const Filter& f) {
        DbQuery q(settings());
        std::string error;
        auto rows = q.list(f, &error);
        EXPECT_TRUE(rows) << error;
        std::vector<std::string> out;
        if (rows)
            for (const auto& r : *rows) out.push_back(r.uuid + " " + r.recipient);
        return out;
    }
    // A sample: four messages over four days to two domains, one archived.
    void sample() {
        write(make_entry(1, kNow - 3 * kDay, {"alice@example.com", "bob@example.com"},
                         "Spammer@Bad.example"));
        auto e2 = make_entry(2, kNow - 2 * kDay, {"Alice@Example.com"}, "news@good.example");
        e2.subject = "Weekly 100% OFF_deals";
        write(e2);
        auto e3 = make_entry(3, kNow - 1 * kDay, {"carol@other.example"}, "spammer@bad.example");
        e3.subject = "weekly report";
        write(e3);
        auto e4 = make_entry(4, kNow, {"alice@example.com"}, "");
        e4.kind = EntryKind::archive;
        write(e4);
    }
    std::unique_ptr<DbTarget> target_;
};

TEST_F(DbQueryTest, ListsADomainOrAUserNewestFirst) {
    sample();
    Filter f;
    f.recipient = "@Example.COM";
    EXPECT_EQ(uuids(f), (std::vector<std::string>{uuid_of(2) + " Alice@Example.com",
                                                  uuid_of(1) + " alice@example.com",
                                                  uuid_of(1) + " bob@example.com"}));
    f.recipient = "ALICE@example.com";
    EXPECT_EQ(uuids(f), (std::vector<std::string>{uuid_of(2) + " Alice@Example.com",
                                                  uuid_of(1) + " alice@example.com"}));
    f.kind = EntryKind::archive;
    EXPECT_EQ(uuids(f), std::vector<std::string>{uuid_of(4) + " alice@example.com"});
    f = Filter{};
    f.limit = 2;
    EXPECT_EQ(uuids(f).size(), 2u);
    f.recipient = "nobody@example.com";
    EXPECT_TRUE(uuids(f).empty());
}

TEST_F(DbQueryTest, SearchesBySenderSubjectAndDateRange) {
    sample();
    Filter f;
    f.sender = "spammer@BAD.example";
    EXPECT_EQ(uuids(f), (std::vector<std::string>{uuid_of(3) + " carol@other.example",
                                                  uuid_of(1) + " alice@example.com",
                                                  uuid_of(1) + " bob@example.com"}));
    f.sender = "@bad.example";
    EXPECT_EQ(uuids(f).size(), 3u);
    f.sender = "@ad.example";  // a domain matches whole, not as a suffix of another
    EXPECT_TRUE(uuids(f).empty());
    f.sender = "<>";
    f.kind = EntryKind::archive;
    EXPECT_EQ(uuids(f), std::vector<std::string>{uuid_of(4) + " alice@example.com"});

    f = Filter{};
    f.subject = "WEEKLY";
    EXPECT_EQ(uuids(f), (std::vector<std::string>{uuid_of(3) + " carol@other.example",
                                                  uuid_of(2) + " Alice@Example.com"}));
    f.subject = "100% OFF_";  // % and _ are literal, not wildcards
    EXPECT_EQ(uuids(f), std::vector<std::string>{uuid_of(2) + " Alice@Example.com"});
    f.subject = "1_0";
    EXPECT_TRUE(uuids(f).empty());

    f = Filter{};
    f.since = kNow - 2 * kDay;
    f.until = kNow - 1 * kDay;  // until is exclusive
    EXPECT_EQ(uuids(f), std::vector<std::string>{uuid_of(2) + " Alice@Example.com"});
    f.recipient = "@example.com";
    f.since = kNow - 10 * kDay;
    f.sender = "spammer@bad.example";
    EXPECT_EQ(uuids(f), (std::vector<std::string>{uuid_of(1) + " alice@example.com",
                                                  uuid_of(1) + " bob@example.com"}));
}

TEST_F(DbQueryTest, ListedRowsCarryWhatAListingShows) {
    sample();
    DbQuery q(settings());
    Filter f;
    f.recipient = "carol@other.example";
    std::string error;
    auto rows = q.list(f, &error);
    ASSERT_TRUE(rows) << error;
    ASSERT_EQ(rows->size(), 1u);
    const Listed& l = rows->at(0);
    EXPECT_EQ(l.received, kNow - kDay);
    EXPECT_EQ(l.sender, "spammer@bad.example");
    EXPECT_EQ(l.subject, "weekly report");
    EXPECT_EQ(l.size, 1000u);
    EXPECT_DOUBLE_EQ(l.score, 7.5);
    EXPECT_EQ(l.verdict, "quarantine");
    EXPECT_EQ(l.released, 0);
}

TEST_F(DbQueryTest, ShowFetchAndUnknownUuids) {
    sample();
    DbQuery q(settings());
    std::string error;
    EXPECT_FALSE(q.show(uuid_of(99), &error));
    EXPECT_EQ(error, "");  // none, not a failure
    std::string got;
    EXPECT_FALSE(q.fetch(
        uuid_of(99),
        [&](std::string_view p) {
            got += p;
            return true;
        },
        &error));
    EXPECT_NE(error.find("no entry"), std::string::npos) << error;
    ASSERT_TRUE(q.fetch(
        uuid_of(3),
        [&](std::string_view p) {
            got += p;
            return true;
        },
        &error))
        << error;
    EXPECT_EQ(got, "message\r\n");
    // A sink that stops: reported, and the connection is usable afterwards.
    EXPECT_FALSE(q.fetch(
        uuid_of(3), [](std::string_view) { return false; }, &error));
    EXPECT_EQ(error, "stopped");
    EXPECT_TRUE(q.show(uuid_of(3), &error)) << error;
    // A message that lost a chunk is reported incomplete, not served short.
    ASSERT_TRUE(
        q.db().exec("DELETE FROM entry_body WHERE entry_id = "
                    "(SELECT id FROM entry WHERE uuid = '" +
                        uuid_of(2) + "')",
                    &error))
        << error;
    EXPECT_FALSE(q.fetch(
        uuid_of(2), [](std::string_view) { return true; }, &error));
    EXPECT_NE(error.find("is incomplete: 0 of 9 bytes"), std::string::npos) << error;
}

TEST_F(DbQueryTest, RemovesOneRecipientThenTheWholeEntry) {
    sample();
    DbQuery q(settings());
    std::string error;
    auto r = q.remove(uuid_of(1), "BOB@example.com", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(*r, Removed::recipient);
    EXPECT_EQ(count("entry_rcpt WHERE entry_id = (SELECT id FROM entry WHERE uuid = '" +
                    uuid_of(1) + "')"),
              1u);
    r = q.remove(uuid_of(1), "bob@example.com", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(*r, Removed::nothing);
    r = q.remove(uuid_of(1), "alice@example.com", &error);  // the last one: the entry goes
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(*r, Removed::entry);
    r = q.remove(uuid_of(2), "", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(*r, Removed::entry);
    r = q.remove(uuid_of(2), "", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(*r, Removed::nothing);
    EXPECT_EQ(count("entry"), 2u);
    EXPECT_EQ(count("entry_rcpt"), 2u);
    EXPECT_EQ(count("entry_body"), 2u);
}

TEST_F(DbQueryTest, MarksReleasesPerRecipient) {
    sample();
    DbQuery q(settings());
    std::string error;
    ASSERT_TRUE(q.mark_released(uuid_of(1), "Bob@example.com", &error)) << error;
    ASSERT_TRUE(q.mark_released(uuid_of(1), "bob@example.com", &error)) << error;  // again: fine
    EXPECT_FALSE(q.mark_released(uuid_of(1), "eve@example.com", &error));
    EXPECT_NE(error.find("has no recipient eve@example.com"), std::string::npos) << error;
    EXPECT_FALSE(q.mark_released(uuid_of(99), "", &error));
    EXPECT_NE(error.find("no entry"), std::string::npos) << error;
    auto s = q.show(uuid_of(1), &error);
    ASSERT_TRUE(s) << error;
    ASSERT_EQ(s->released.size(), 2u);
    EXPECT_EQ(s->released[0], 0);
    EXPECT_GT(s->released[1], kNow - kDay);
    ASSERT_TRUE(q.mark_released(uuid_of(3), "", &error)) << error;
    Filter f;
    f.recipient = "carol@other.example";
    auto rows = q.list(f, &error);
    ASSERT_TRUE(rows && rows->size() == 1) << error;
    EXPECT_GT(rows->at(0).released, 0);
}

TEST_F(DbQueryTest, PurgeDeletesOnlyOlderRowsInBatches) {
    // 130 old entries (more than one batch) and 2 recent ones; tracking rows likewise.
    for (unsigned i = 0; i < 130; ++i) {
        auto e = make_entry(100 + i, kNow - 40 * kDay + i, {"a@example.com", "b@example.com"});
        if (i % 10 == 0) e.kind = EntryKind::archive;
        write(e);
    }
    write(make_entry(300, kNow - 10 * kDay));
    auto recent = make_entry(301, kNow - 10 * kDay);
    recent.kind = EntryKind::archive;
    write(recent);
    for (unsigned i = 0; i < 5; ++i) {
        TrackingRecord t;
        t.uuid = uuid_of(400 + i);
        t.received = i < 3 ? kNow - 31 * kDay : kNow - 29 * kDay;
        std::string error;
        ASSERT_TRUE(target_->write_tracking(t, &error)) << error;
    }
    Db db(settings());
    std::string error;
    const std::int64_t cutoff = kNow - 30 * kDay;

    // A deadline already passed: stops before deleting anything and says so.
    auto late = purge(db, cutoff, PurgeWhat{}, std::chrono::steady_clock::now(), &error);
    ASSERT_TRUE(late) << error;
    EXPECT_FALSE(late->complete);
    EXPECT_EQ(count("entry"), 132u);

    // Only the tracking rows.
    auto tracking = purge(db, cutoff, PurgeWhat{false, false, true},
                          std::chrono::steady_clock::now() + std::chrono::seconds(30), &error);
    ASSERT_TRUE(tracking) << error;
    EXPECT_EQ(tracking->tracking, 3u);
    EXPECT_EQ(tracking->quarantine, 0u);
    EXPECT_EQ(count("tracking"), 2u);
    EXPECT_EQ(count("entry"), 132u);

    auto all = purge(db, cutoff, PurgeWhat{},
                     std::chrono::steady_clock::now() + std::chrono::seconds(30), &error);
    ASSERT_TRUE(all) << error;
    EXPECT_TRUE(all->complete);
    EXPECT_EQ(all->quarantine, 117u);
    EXPECT_EQ(all->archive, 13u);
    EXPECT_EQ(all->tracking, 0u);
    EXPECT_EQ(count("entry"), 2u);
    EXPECT_EQ(count("entry_rcpt"), 2u);
    EXPECT_EQ(count("entry_body"), 2u);
    EXPECT_EQ(scalar("SELECT GROUP_CONCAT(uuid ORDER BY uuid) FROM entry"),
              uuid_of(300) + "," + uuid_of(301));
}

}  // namespace
}  // namespace mpp::store
