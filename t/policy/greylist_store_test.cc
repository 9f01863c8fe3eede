// t/policy/greylist_store_test.cc: the greylist's state across restarts (snapshot + journal in a
// temporary state-dir): decisions survive, a torn last record or a flipped byte loses only what
// it must, a truncated snapshot is set aside, and the journal is compacted when it grows.
#include "policy/greylist_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "lib/metrics.h"
#include "policy/greylist.h"
#include "t/policy/policy_test_util.h"

namespace {

namespace fs = std::filesystem;
using mpp::FakeClock;
using mpp::IpAddr;
using mpp::config::GreylistCfg;
using mpp::policy::FileGreylistStore;
using mpp::policy::GreyKind;
using mpp::policy::GreyRecord;
using mpp::policy::Greylist;
using mpp::policy::Transaction;
using Outcome = Greylist::Outcome;
using std::chrono::seconds;

using mpp::policy::test::tx;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

struct StoreTest : ::testing::Test {
    fs::path dir;
    FakeClock clock;
    GreylistCfg cfg;
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "greylist-store-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }
    std::unique_ptr<Greylist> open(std::size_t compact_after = 200000) {
        auto g = std::make_unique<Greylist>(clock, Greylist::Options{},
                                            std::make_unique<FileGreylistStore>(dir.string(), compact_after));
        g->load();
        return g;
    }
    std::vector<fs::path> files(const std::string& prefix) {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
        return out;
    }
    // Writes journal 1 with `n` triplet records straight through the store; returns its path.
    fs::path journal_of(int n) {
        FileGreylistStore s(dir.string());
        s.load([](const GreyRecord&) {});
        for (int i = 0; i < n; ++i) {
            GreyRecord r;
            r.key[0] = static_cast<std::uint8_t>(i);
            r.entry.first_seen = r.entry.last_seen = 100;
            r.entry.expires = 0xFFFFFFF0u;
            s.append(r);
        }
        return s.journal_path(s.generation());
    }
    std::vector<GreyRecord> replay() {
        std::vector<GreyRecord> got;
        FileGreylistStore s(dir.string());
        s.load([&](const GreyRecord& r) { got.push_back(r); });
        return got;
    }
};

TEST_F(StoreTest, RestartKeepsDecisions) {
    {
        auto g = open();
        EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "passed@y.example"), cfg).outcome, Outcome::first_seen);
        clock.advance(seconds(300));
        EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "passed@y.example"), cfg).outcome, Outcome::passed_first);
        EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "waiting@y.example"), cfg).outcome, Outcome::first_seen);
        clock.advance(seconds(100));
    }  // no shutdown work: as if killed
    auto g = open();
    EXPECT_EQ(g->size(), 3u);  // two triplets and the network's auto-whitelist count
    auto net = g->show("net:192.0.2.0");
    ASSERT_TRUE(net);
    EXPECT_EQ(net->entry.count, 1);
    EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "passed@y.example"), cfg).outcome, Outcome::passed);
    auto r = g->check(tx("192.0.2.1", "a@x.example", "waiting@y.example"), cfg);
    EXPECT_EQ(r.outcome, Outcome::too_early);
    EXPECT_EQ(r.verdict.text, "Greylisted, try again in 200 seconds");  // first-seen time kept
    clock.advance(seconds(200));
    EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "waiting@y.example"), cfg).outcome, Outcome::passed_first);
    // After the restart the journals were folded into a snapshot.
    EXPECT_TRUE(fs::exists(dir / "greylist.snapshot"));
    EXPECT_EQ(files("greylist.journal.").size(), 1u);
}

TEST_F(StoreTest, DowntimeCountsAndFutureTimesAreClamped) {
    {
        auto g = open();
        g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg);
    }
    clock.step_wall(-std::chrono::hours(1));  // the wall clock went back while we were down
    auto g = open();
    auto r = g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg);
    EXPECT_EQ(r.outcome, Outcome::too_early);
    EXPECT_EQ(r.verdict.text, "Greylisted, try again in 300 seconds");  // never a negative window
}

TEST_F(StoreTest, TornLastRecordIsIgnored) {
    fs::path j = journal_of(5);
    std::string bytes = slurp(j);
    spit(j, bytes.substr(0, bytes.size() - 7));  // crash in the middle of the last write
    auto& errors = mpp::metrics::get("greylist-store-errors");
    const auto before = errors.get();
    auto got = replay();
    ASSERT_EQ(got.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)].key[0], i);
    EXPECT_EQ(errors.get() - before, 1);
    auto scan = mpp::policy::scan_journal(bytes.substr(0, bytes.size() - 7), [](const GreyRecord&) {});
    EXPECT_TRUE(scan.torn);
    EXPECT_FALSE(scan.corrupt);
    EXPECT_EQ(scan.records, 4u);
}

TEST_F(StoreTest, FlippedByteStopsThatJournal) {
    fs::path j = journal_of(5);
    std::string bytes = slurp(j);
    const std::size_t frame = 8 + 33;
    bytes[16 + 2 * frame + 8 + 5] ^= 0x01;  // a key byte of the third record
    spit(j, bytes);
    auto got = replay();
    EXPECT_EQ(got.size(), 2u);
    auto scan = mpp::policy::scan_journal(bytes, [](const GreyRecord&) {});
    EXPECT_TRUE(scan.corrupt);
    EXPECT_EQ(scan.stop_offset, 16 + 2 * frame);
}

TEST_F(StoreTest, HugeLengthIsCorruptNotAnAllocation) {
    fs::path j = journal_of(1);
    std::string bytes = slurp(j);
    bytes[16 + 3] = static_cast<char>(0x7F);  // length 0x7F000029
    spit(j, bytes);
    EXPECT_TRUE(replay().empty());
}

TEST_F(StoreTest, TruncatedSnapshotIsSetAsideAndNeverFatal) {
    {
        auto g = open();
        g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg);
        g->check(tx("192.0.2.1", "a@x.example", "c@y.example"), cfg);
        g->maintain();
    }
    {
        auto g = open();  // folds the journal into the snapshot
        EXPECT_EQ(g->size(), 2u);
    }
    std::string snap = slurp(dir / "greylist.snapshot");
    spit(dir / "greylist.snapshot", snap.substr(0, snap.size() - 10));
    auto g = open();
    EXPECT_EQ(g->size(), 0u);
    EXPECT_TRUE(fs::exists(dir / "greylist.snapshot.corrupt"));
    EXPECT_EQ(g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg).outcome, Outcome::first_seen);
}

TEST_F(StoreTest, FlippedByteInSnapshotIsCorrupt) {
    {
        auto g = open();
        g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg);
    }
    open();
    std::string snap = slurp(dir / "greylist.snapshot");
    snap[30] ^= 0x40;
    spit(dir / "greylist.snapshot", snap);
    auto g = open();
    EXPECT_EQ(g->size(), 0u);
    EXPECT_TRUE(fs::exists(dir / "greylist.snapshot.corrupt"));
}

TEST_F(StoreTest, JournalIsCompactedWhenItGrows) {
    auto g = open(10);
    for (int i = 0; i < 25; ++i) {
        std::string r = "r" + std::to_string(i) + "@y.example";
        g->check(tx("192.0.2.1", "a@x.example", r.c_str()), cfg);
    }
    auto journals = files("greylist.journal.");
    ASSERT_EQ(journals.size(), 1u);
    const auto big = fs::file_size(journals[0]);
    g->maintain();
    journals = files("greylist.journal.");
    ASSERT_EQ(journals.size(), 1u);
    EXPECT_LT(fs::file_size(journals[0]), big);
    g.reset();
    auto again = open();
    EXPECT_EQ(again->size(), 25u);
}

TEST_F(StoreTest, DeleteAndFlushArePersisted) {
    std::string key;
    {
        auto g = open();
        g->check(tx("192.0.2.1", "a@x.example", "b@y.example"), cfg);
        g->check(tx("192.0.2.1", "a@x.example", "c@y.example"), cfg);
        key = g->key_of(*IpAddr::parse("192.0.2.1"), "a@x.example", "b@y.example", cfg);
        EXPECT_TRUE(g->erase(key));
    }
    {
        auto g = open();
        EXPECT_EQ(g->size(), 1u);
        EXPECT_FALSE(g->show(key));
        EXPECT_EQ(g->flush(), 1u);
    }
    EXPECT_EQ(open()->size(), 0u);
}

}  // namespace
