// t/policy/table_snapshots_test.cc: the block list and threshold counters across restarts
// (policy/table_snapshots.h) in a temporary state-dir: a block keeps its time left, a window
// keeps its counts and lets them go when they would have gone, expired entries stay behind, a
// wall clock that went back grows nothing, a flipped byte loses one record, a torn or garbage
// file is set aside, an unchanged table is not rewritten, a failing save retries, and a
// restarted Checks still refuses a spam-trapped client.
#include "policy/table_snapshots.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "lib/metrics.h"
#include "policy/checks.h"
#include "t/policy/policy_test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace mpp;
using namespace mpp::policy;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
}

IpAddr ip(const char* text) { return *IpAddr::parse(text); }

config::ThresholdCfg rule(long messages, seconds period, seconds block_for) {
    config::ThresholdCfg r;
    r.name = "rate";
    r.messages = messages;
    r.period = period;
    r.block_for = block_for;
    return r;
}

// One daemon's tables on a state-dir.
struct Instance {
    Blocklist blocks;
    Thresholds thresholds;
    TableSnapshots snaps;
    Instance(Clock& clock, const fs::path& dir)
        : blocks(clock), thresholds(clock), snaps(dir.string(), clock, blocks, thresholds) {
        snaps.load();
    }
};

struct SnapshotTest : ::testing::Test {
    fs::path dir;
    std::unique_ptr<FakeClock> clock = std::make_unique<FakeClock>();
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "table-snapshots-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }
    // A new process `down` after the last one's clock: its steady clock has another origin
    // (hours ahead, so any use of the old steady times would show), the wall clock goes on.
    void restart(std::chrono::system_clock::duration down) {
        auto next = std::make_unique<FakeClock>();
        next->advance(hours(7));
        next->step_wall(clock->wall() + down - next->wall());
        clock = std::move(next);
    }
    std::vector<fs::path> files(const std::string& prefix) const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
        return out;
    }
    std::size_t set_aside(const std::string& name) const { return files(name + ".corrupt-").size(); }
};

TEST_F(SnapshotTest, BlockKeepsItsTimeLeftAcrossARestart) {
    {
        Instance a(*clock, dir);
        a.blocks.add(ip("192.0.2.7"), "", hours(1), BlockSource::spamtrap, "spam trap 12345@example.com");
        a.blocks.add(ip("2001:db8::9"), "outbound", hours(2), BlockSource::admin, "added by mppctl");
        clock->advance(minutes(10));
        ASSERT_TRUE(a.snaps.save());
    }
    ASSERT_TRUE(fs::exists(dir / "blocklist.state"));
    restart(minutes(5));  // down for 5 minutes: they count
    Instance b(*clock, dir);
    auto hit = b.blocks.find(ip("192.0.2.7"), "default");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->left, minutes(45));
    EXPECT_EQ(hit->scope, "");
    EXPECT_EQ(hit->source, BlockSource::spamtrap);
    EXPECT_EQ(hit->reason, "spam trap 12345@example.com");
    EXPECT_FALSE(b.blocks.find(ip("2001:db8::9"), "default")) << "a group's block stays in its group";
    auto v6 = b.blocks.find(ip("2001:db8::9"), "outbound");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->left, minutes(105));
    EXPECT_EQ(v6->source, BlockSource::admin);
    clock->advance(minutes(45) - seconds(1));
    EXPECT_TRUE(b.blocks.find(ip("192.0.2.7"), "default"));
    clock->advance(seconds(1));
    EXPECT_FALSE(b.blocks.find(ip("192.0.2.7"), "default")) << "gone when it would have gone";
}

TEST_F(SnapshotTest, ExpiredBlocksAreNotLoaded) {
    {
        Instance a(*clock, dir);
        a.blocks.add(ip("192.0.2.1"), "", minutes(1), BlockSource::spamtrap, "short");
        a.blocks.add(ip("192.0.2.2"), "", hours(1), BlockSource::spamtrap, "long");
        ASSERT_TRUE(a.snaps.save());
    }
    restart(minutes(2));
    Instance b(*clock, dir);
    EXPECT_EQ(b.blocks.size(), 1u);
    EXPECT_FALSE(b.blocks.find(ip("192.0.2.1"), "g"));
    EXPECT_TRUE(b.blocks.find(ip("192.0.2.2"), "g"));
    EXPECT_EQ(set_aside("blocklist.state"), 0u);
}

TEST_F(SnapshotTest, WallClockBackWhileDownGrowsNoBlock) {
    {
        Instance a(*clock, dir);
        a.blocks.add(ip("192.0.2.1"), "", hours(1), BlockSource::spamtrap, "t");
        ASSERT_TRUE(a.snaps.save());
    }
    restart(-hours(3));  // the wall clock now reads 3 hours before the save
    Instance b(*clock, dir);
    auto hit = b.blocks.find(ip("192.0.2.1"), "g");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->left, hours(1));
}

long messages(const Thresholds& t) {
    auto rows = t.list();
    return rows.empty() ? 0 : rows.front().messages;
}

TEST_F(SnapshotTest, ThresholdWindowKeepsItsCountsAndLetsThemGoOnTime) {
    const auto r = rule(3, seconds(30), seconds(0));  // 1 s buckets: exact to the second
    {
        Instance a(*clock, dir);
        for (const char* m : {"m1", "m2", "m3"}) {  // counted at 0, 10 and 20 s
            EXPECT_TRUE(a.thresholds.check("default", r, "192.0.2.1", m).counted);
            clock->advance(seconds(10));
        }
        ASSERT_TRUE(a.snaps.save());  // at 30 s: the first count is gone, 2 are left
        EXPECT_EQ(messages(a.thresholds), 2);
    }
    restart(seconds(3));  // back at 33 s
    Instance b(*clock, dir);
    ASSERT_EQ(b.thresholds.size(), 1u);
    auto row = b.thresholds.list().at(0);
    EXPECT_EQ(row.group, "default");
    EXPECT_EQ(row.rule, "rate");
    EXPECT_EQ(row.key, "192.0.2.1");
    EXPECT_EQ(row.messages, 2);
    clock->advance(seconds(6));  // 39 s: the count of 10 s is still in
    EXPECT_EQ(messages(b.thresholds), 2);
    clock->advance(seconds(1));  // 40 s: it leaves, exactly 30 s after it was made
    EXPECT_EQ(messages(b.thresholds), 1);
    EXPECT_FALSE(b.thresholds.check("default", r, "192.0.2.1", "m4").over);
    EXPECT_EQ(messages(b.thresholds), 2);  // m4 counts in the restored window
    clock->advance(seconds(10));  // 50 s: the count of 20 s leaves
    EXPECT_EQ(messages(b.thresholds), 1);
}

TEST_F(SnapshotTest, ThresholdBlockAndLongWindowSurvive) {
    const auto r = rule(2, hours(1), hours(1));  // 113 s buckets
    {
        Instance a(*clock, dir);
        EXPECT_FALSE(a.thresholds.check("default", r, "192.0.2.1", "m1").over);
        EXPECT_FALSE(a.thresholds.check("default", r, "192.0.2.1", "m2").over);
        auto d = a.thresholds.check("default", r, "192.0.2.1", "m3");
        EXPECT_TRUE(d.over && d.crossing);
        clock->advance(minutes(20));
        ASSERT_TRUE(a.snaps.save());
    }
    restart(minutes(10));
    Instance b(*clock, dir);
    auto d = b.thresholds.check("default", r, "192.0.2.1", "m4");
    EXPECT_TRUE(d.over);
    EXPECT_FALSE(d.crossing) << "still the block of before, not a new crossing";
    EXPECT_EQ(d.left, minutes(30));
    EXPECT_EQ(d.messages, 2);
    clock->advance(minutes(25));  // 55 min after the counts: in the window, still blocked
    auto row = b.thresholds.list().at(0);
    EXPECT_EQ(row.messages, 2);
    EXPECT_EQ(row.blocked_left, minutes(5));
    clock->advance(minutes(5) + seconds(4 * 113));  // the block and the window are over
    EXPECT_TRUE(b.thresholds.list().empty());
}

TEST_F(SnapshotTest, ExpiredThresholdWindowsAreNotLoaded) {
    const auto r = rule(5, seconds(30), seconds(0));
    {
        Instance a(*clock, dir);
        a.thresholds.check("default", r, "192.0.2.1", "m1");
        clock->advance(seconds(20));
        a.thresholds.check("default", r, "192.0.2.2", "m2");
        ASSERT_TRUE(a.snaps.save());
    }
    restart(seconds(15));  // the first key's count (35 s old) is gone, the second's (15 s) not
    Instance b(*clock, dir);
    auto rows = b.thresholds.list();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].key, "192.0.2.2");
    EXPECT_EQ(b.thresholds.size(), 1u);
}

TEST_F(SnapshotTest, ASmallerTableKeepsTheMostRecentlyUsedKeys) {
    const auto r = rule(5, hours(1), seconds(0));
    {
        Instance a(*clock, dir);
        for (const char* key : {"k1", "k2", "k3"}) a.thresholds.check("default", r, key, key);
        ASSERT_TRUE(a.snaps.save());
    }
    Blocklist blocks(*clock);
    Thresholds small(*clock, 2);
    TableSnapshots snaps(dir.string(), *clock, blocks, small);
    snaps.load();
    auto rows = small.list();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].key, "k2");
    EXPECT_EQ(rows[1].key, "k3");
}

// Two blocks saved; returns the file's bytes and the offsets of the two record frames.
struct TwoBlocks {
    std::string bytes;
    std::size_t first = 16, second = 0;
};
TwoBlocks save_two_blocks(Clock& clock, const fs::path& dir) {
    Instance a(clock, dir);
    a.blocks.add(ip("192.0.2.1"), "", hours(1), BlockSource::spamtrap, "one");
    a.blocks.add(ip("192.0.2.2"), "", hours(2), BlockSource::spamtrap, "two");
    EXPECT_TRUE(a.snaps.save());
    TwoBlocks t;
    t.bytes = slurp(dir / "blocklist.state");
    std::size_t len = static_cast<unsigned char>(t.bytes[t.first]);
    t.second = t.first + 8 + len;
    return t;
}

TEST_F(SnapshotTest, ARecordWithABadChecksumIsSkippedAndTheFileSetAside) {
    auto two = save_two_blocks(*clock, dir);  // in key order: 192.0.2.1 first
    auto before = metrics::get("state-load-errors").get();
    std::string bytes = two.bytes;
    bytes[two.first + 8 + 12] ^= 0x40;  // inside the first record's client address
    spit(dir / "blocklist.state", bytes);
    {
        Instance b(*clock, dir);
        EXPECT_EQ(b.blocks.size(), 1u);
        EXPECT_FALSE(b.blocks.find(ip("192.0.2.1"), "g")) << "the damaged record is not used";
        EXPECT_TRUE(b.blocks.find(ip("192.0.2.2"), "g"));
        EXPECT_EQ(set_aside("blocklist.state"), 1u);
        EXPECT_FALSE(fs::exists(dir / "blocklist.state"));
        EXPECT_EQ(metrics::get("state-load-errors").get(), before + 1);
        ASSERT_TRUE(b.snaps.save()) << "a good file is written at once, unchanged table or not";
        EXPECT_TRUE(fs::exists(dir / "blocklist.state"));
    }
    Instance c(*clock, dir);
    EXPECT_EQ(c.blocks.size(), 1u);
    EXPECT_EQ(set_aside("blocklist.state"), 1u) << "the new file is whole";
}

TEST_F(SnapshotTest, ATornFileKeepsItsWholeRecords) {
    auto two = save_two_blocks(*clock, dir);
    spit(dir / "blocklist.state", two.bytes.substr(0, two.second + 11));  // mid second record
    Instance b(*clock, dir);
    EXPECT_EQ(b.blocks.size(), 1u);
    EXPECT_TRUE(b.blocks.find(ip("192.0.2.1"), "g"));
    EXPECT_EQ(set_aside("blocklist.state"), 1u);
}

TEST_F(SnapshotTest, AMissingTrailerOrAMissingRecordIsDamage) {
    auto two = save_two_blocks(*clock, dir);
    spit(dir / "blocklist.state", two.bytes.substr(0, two.bytes.size() - 17));  // no trailer
    {
        Instance b(*clock, dir);
        EXPECT_EQ(b.blocks.size(), 2u);
        EXPECT_EQ(set_aside("blocklist.state"), 1u);
    }
    for (const auto& f : files("blocklist.state.corrupt-")) fs::remove(f);
    // the first record cut out: the trailer still counts two
    spit(dir / "blocklist.state", two.bytes.substr(0, two.first) + two.bytes.substr(two.second));
    Instance c(*clock, dir);
    EXPECT_EQ(c.blocks.size(), 1u);
    EXPECT_EQ(set_aside("blocklist.state"), 1u);
}

TEST_F(SnapshotTest, GarbageAndEmptyFilesAreSetAsideNeverFatal) {
    for (const std::string& junk : {std::string(), std::string("hello, world\n"),
                                    std::string("MPPBLK1\n") + std::string(300, '\xff')}) {
        spit(dir / "blocklist.state", junk);
        spit(dir / "thresholds.state", junk);
        Instance b(*clock, dir);
        EXPECT_EQ(b.blocks.size(), 0u);
        EXPECT_EQ(b.thresholds.size(), 0u);
        EXPECT_FALSE(fs::exists(dir / "blocklist.state"));
        EXPECT_FALSE(fs::exists(dir / "thresholds.state"));
        for (const auto& f : files("")) fs::remove(f);
    }
}

TEST_F(SnapshotTest, AThresholdRecordWithABadChecksumIsSkipped) {
    const auto r = rule(5, hours(1), seconds(0));
    {
        Instance a(*clock, dir);
        a.thresholds.check("default", r, "k1", "m1");
        a.thresholds.check("default", r, "k2", "m2");  // saved first (most recent)
        ASSERT_TRUE(a.snaps.save());
    }
    std::string bytes = slurp(dir / "thresholds.state");
    bytes[16 + 8 + 30] ^= 0x01;  // inside the first record
    spit(dir / "thresholds.state", bytes);
    Instance b(*clock, dir);
    auto rows = b.thresholds.list();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].key, "k1");
    EXPECT_EQ(set_aside("thresholds.state"), 1u);
}

TEST_F(SnapshotTest, AnUnchangedTableIsNotRewritten) {
    Instance a(*clock, dir);
    ASSERT_TRUE(a.snaps.save());
    EXPECT_FALSE(fs::exists(dir / "blocklist.state")) << "nothing to save yet";
    a.blocks.add(ip("192.0.2.1"), "", hours(1), BlockSource::admin, "added by mppctl");
    ASSERT_TRUE(a.snaps.save());
    ASSERT_TRUE(fs::exists(dir / "blocklist.state"));
    fs::remove(dir / "blocklist.state");
    a.blocks.find(ip("192.0.2.1"), "g");  // a lookup is no change
    ASSERT_TRUE(a.snaps.save());
    EXPECT_FALSE(fs::exists(dir / "blocklist.state"));
    EXPECT_EQ(a.blocks.remove(ip("192.0.2.1"), std::nullopt), 1u);
    ASSERT_TRUE(a.snaps.save());
    ASSERT_TRUE(fs::exists(dir / "blocklist.state"));
    Instance b(*clock, dir);
    EXPECT_EQ(b.blocks.size(), 0u) << "a deleted block stays deleted";
}

TEST_F(SnapshotTest, AFailedSaveIsCountedAndRetried) {
    const fs::path missing = dir / "not-yet";
    Blocklist blocks(*clock);
    Thresholds thresholds(*clock);
    TableSnapshots snaps(missing.string(), *clock, blocks, thresholds);
    snaps.load();
    blocks.add(ip("192.0.2.1"), "", hours(1), BlockSource::admin, "added by mppctl");
    auto before = metrics::get("state-save-errors").get();
    EXPECT_FALSE(snaps.save());
    EXPECT_FALSE(snaps.save());
    EXPECT_EQ(metrics::get("state-save-errors").get(), before + 2);
    EXPECT_TRUE(blocks.find(ip("192.0.2.1"), "g")) << "the table goes on in memory";
    fs::create_directory(missing);
    EXPECT_TRUE(snaps.save());
    EXPECT_TRUE(fs::exists(missing / "blocklist.state"));
    EXPECT_FALSE(fs::exists(missing / "blocklist.state.tmp"));
}

TEST_F(SnapshotTest, SavesWhileTheTableChangesLoseNothingAtTheEnd) {
    {
        Instance a(*clock, dir);
        std::thread writer([&] {
            for (int i = 0; i < 2000; ++i) {
                IpAddr addr = ip("2001:db8::");
                addr.bytes[14] = static_cast<std::uint8_t>(i >> 8);
                addr.bytes[15] = static_cast<std::uint8_t>(i);
                a.blocks.add(addr, "", hours(1), BlockSource::spamtrap, "t");
            }
        });
        for (int i = 0; i < 50; ++i) EXPECT_TRUE(a.snaps.save());
        writer.join();
        EXPECT_TRUE(a.snaps.save());
    }
    Instance b(*clock, dir);
    EXPECT_EQ(b.blocks.size(), 2000u);
}

TEST(ChecksRestart, ASpamTrappedClientIsStillRefusedByTheNextInstance) {
    std::string tmpl = (fs::temp_directory_path() / "mpp-checks-restart-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    const char* cfg = R"X(<group name="default">
        <spamtrap pattern="^trap@" scope="global" block-for="1d"/></group>)X";
    {
        Checks checks(test::load(cfg), tmpl);
        auto v = checks.evaluate(test::tx("192.0.2.5", "a@sender.example", "trap@example.com"));
        EXPECT_EQ(v.action, Action::reject);
        checks.state().blocks.add(ip("192.0.2.6"), "", hours(2), BlockSource::admin,
                                  "added by mppctl");  // as `mppctl blacklist add` does
        checks.close();
    }
    {
        Checks checks(test::load(cfg), tmpl);
        for (const char* client : {"192.0.2.5", "192.0.2.6"}) {
            auto v = checks.evaluate(test::tx(client, "a@sender.example", "u@example.com"));
            EXPECT_EQ(v.action, Action::reject) << client;
            EXPECT_EQ(v.check, "blocklist") << client;
        }
        auto v = checks.evaluate(test::tx("192.0.2.7", "a@sender.example", "u@example.com"));
        EXPECT_EQ(v.action, Action::none);
    }
    std::error_code ec;
    fs::remove_all(tmpl, ec);
}

}  // namespace
