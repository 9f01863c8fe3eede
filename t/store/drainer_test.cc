// t/store/drainer_test.cc: the drainer from a real spool to a real maildir store (temp dirs):
// entries drain oldest first and leave the spool; a crash between the target's write and the
// spool's unlink (simulated: the entry written to the maildir store by hand and left in the
// spool, then a new spool and store opened as after a restart) stores nothing twice; a target
// that fails (a regular file where a maildir directory must go) keeps the entries and backs
// off, and drains them once it works; a poison entry is set aside while others drain; a
// damaged spool file is set aside; the thread drains after wake().
#include "store/drainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "store/maildir.h"
#include "t/store/store_test_util.h"
#include "t/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mpp::store::Drainer;
using mpp::store::Entry;
using mpp::store::MaildirStore;
using mpp::store::Spool;
using mpp::testing::names_in;
using mpp::testing::sample_entry;
using mpp::testing::sample_message;
using mpp::testing::TempDir;

struct Rig {
    TempDir dir{"mpp-drain"};
    std::unique_ptr<Spool> spool;
    std::shared_ptr<MaildirStore> maildir;
    std::unique_ptr<Drainer> drainer;
    Rig() { open(); }
    void open() {
        drainer.reset();
        maildir.reset();
        spool.reset();
        std::string error;
        spool = Spool::open(dir / "spool", {}, &error);
        ASSERT_TRUE(spool) << error;
        MaildirStore::Settings s;
        s.path_template = dir / "q/%D%/%U%";
        s.index_path = dir / "maildir.index";
        maildir = MaildirStore::open(s, &error);
        ASSERT_TRUE(maildir) << error;
        Drainer::Settings ds;
        ds.min_backoff = 10ms;
        ds.max_backoff = 40ms;
        drainer = std::make_unique<Drainer>(*spool, maildir, ds);
    }
    std::string put(Entry e) {
        auto r = spool->put(std::move(e), sample_message());
        EXPECT_TRUE(r.ok()) << r.error;
        return r.uuid;
    }
};

TEST(Drainer, DrainsOldestFirstAndEmptiesTheSpool) {
    Rig r;
    Entry first = sample_entry({"bob@example.com", "carol@example.com"});
    first.received = 1700000000;
    Entry second = sample_entry({"bob@example.com"});
    second.received = 1700000100;
    const std::string u1 = r.put(first), u2 = r.put(second);
    auto pass = r.drainer->drain_once();
    EXPECT_EQ(pass.written, 2u);
    EXPECT_EQ(pass.failed, 0u);
    EXPECT_EQ(r.spool->entries(), 0u);
    EXPECT_TRUE(names_in(r.dir / "spool/new").empty());
    EXPECT_EQ(r.maildir->size(), 2u);
    auto bob = names_in(r.dir / "q/example.com/bob/new");
    ASSERT_EQ(bob.size(), 2u);
    EXPECT_EQ(bob[0], "1700000000." + u1 + "_0." + bob[0].substr(bob[0].rfind('.') + 1));
    EXPECT_EQ(names_in(r.dir / "q/example.com/carol/new").size(), 1u);
    EXPECT_EQ(r.drainer->status().drained, 2u);
    EXPECT_EQ(r.drainer->drain_once().written, 0u);
}

TEST(Drainer, CrashBetweenWriteAndUnlinkStoresNothingTwice) {
    Rig r;
    const std::string uuid = r.put(sample_entry({"bob@example.com", "carol@example.com"}));
    {
        // What the drainer does before its unlink: the target has the entry...
        std::string error;
        auto e = r.spool->read(uuid, &error);
        ASSERT_TRUE(e) << error;
        ASSERT_TRUE(r.maildir->write(e->entry, *e->message, &error)) << error;
    }
    // ...and then the process died: the entry is still in the spool at the restart.
    r.open();
    EXPECT_EQ(r.spool->entries(), 1u);
    auto pass = r.drainer->drain_once();
    EXPECT_EQ(pass.written, 1u);
    EXPECT_EQ(r.spool->entries(), 0u);
    EXPECT_EQ(r.maildir->size(), 1u);
    EXPECT_EQ(names_in(r.dir / "q/example.com/bob/new").size(), 1u);
    EXPECT_EQ(names_in(r.dir / "q/example.com/carol/new").size(), 1u);
    EXPECT_TRUE(names_in(r.dir / "q/example.com/bob/tmp").empty());
}

TEST(Drainer, FailingTargetKeepsEntriesBacksOffAndRecovers) {
    Rig r;
    std::filesystem::create_directories(r.dir / "q");
    std::ofstream(r.dir / "q/example.com") << "not a directory";
    r.put(sample_entry());
    r.put(sample_entry());
    r.put(sample_entry());
    auto pass = r.drainer->drain_once();
    EXPECT_EQ(pass.written, 0u);
    EXPECT_EQ(pass.failed, 2u);  // two failures in a row end the pass
    EXPECT_NE(pass.error.find("Not a directory"), std::string::npos) << pass.error;
    auto st = r.drainer->status();
    EXPECT_TRUE(st.failing);
    EXPECT_EQ(st.backoff, 10ms);
    r.drainer->drain_once();
    EXPECT_EQ(r.drainer->status().backoff, 20ms);
    for (int i = 0; i < 5; ++i) r.drainer->drain_once();
    EXPECT_EQ(r.drainer->status().backoff, 40ms);  // capped
    EXPECT_EQ(r.spool->entries(), 3u);             // nothing set aside: the target is down
    EXPECT_TRUE(names_in(r.dir / "spool/corrupt").empty());

    std::filesystem::remove(r.dir / "q/example.com");
    r.drainer->start();
    for (int i = 0; i < 300 && r.spool->entries() > 0; ++i) std::this_thread::sleep_for(10ms);
    r.drainer->stop();
    EXPECT_EQ(r.spool->entries(), 0u);
    EXPECT_EQ(r.maildir->size(), 3u);
    EXPECT_FALSE(r.drainer->status().failing);
}

TEST(Drainer, PoisonEntryIsSetAsideWhileOthersDrain) {
    Rig r;
    std::filesystem::create_directories(r.dir / "q");
    std::ofstream(r.dir / "q/bad.example") << "not a directory";
    const std::string poison = r.put(sample_entry({"x@bad.example"}));
    for (int i = 0; i < 5; ++i) r.put(sample_entry({"bob@example.com"}));
    for (int i = 0; i < 10 && r.spool->entries() > 0; ++i) r.drainer->drain_once();
    EXPECT_EQ(r.spool->entries(), 0u);
    EXPECT_EQ(r.maildir->size(), 5u);
    EXPECT_EQ(names_in(r.dir / "spool/corrupt"), std::vector<std::string>{poison});
}

TEST(Drainer, DamagedSpoolFileIsSetAside) {
    Rig r;
    const std::string bad = r.put(sample_entry());
    const std::string good = r.put(sample_entry());
    std::filesystem::resize_file(r.dir / "spool/new/" + bad, 100);
    auto pass = r.drainer->drain_once();
    EXPECT_EQ(pass.set_aside, 1u);
    EXPECT_EQ(pass.written, 1u);
    EXPECT_EQ(names_in(r.dir / "spool/corrupt"), std::vector<std::string>{bad});
    std::string error;
    EXPECT_TRUE(r.maildir->show(good, &error));
    EXPECT_FALSE(r.maildir->show(bad, &error));
}

TEST(Drainer, ThreadDrainsAfterWake) {
    Rig r;
    r.drainer->start();
    r.put(sample_entry());
    r.drainer->wake();
    for (int i = 0; i < 300 && r.maildir->size() == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(r.maildir->size(), 1u);
    r.drainer->stop();
    r.drainer->stop();  // twice is harmless
}

}  // namespace
