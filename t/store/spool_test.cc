// t/store/spool_test.cc: the durable spool on real files in a temp dir: an entry is in new/
// only once put() has returned success (looked at while the message is being written); a
// round trip keeps every field and byte; recovery at open removes tmp/ leftovers and sets
// aside strange names; damaged files (truncated, flipped byte, bad metadata, wrong version)
// are reported as damaged and set aside to corrupt/; the entry and byte bounds and a write
// failure give Status::full (the failure is caused with RLIMIT_FSIZE: the kernel refuses the
// write with EFBIG, as it would with ENOSPC on a full disk; this machine has no small tmpfs to
// fill); a failing reader leaves nothing behind; concurrent puts; one mppd per spool.
#include "store/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "lib/metrics.h"
#include "store/spool_format.h"
#include "store/uuid.h"
#include "t/store/store_test_util.h"
#include "t/temp_dir.h"

namespace {

using mpp::store::Entry;
using mpp::store::PutResult;
using mpp::store::Spool;
using mpp::testing::names_in;
using mpp::testing::ProbeReader;
using mpp::testing::read_all;
using mpp::testing::sample_entry;
using mpp::testing::sample_message;
using mpp::testing::TempDir;

std::unique_ptr<Spool> open_spool(const TempDir& d, Spool::Limits limits = {}) {
    std::string error;
    auto s = Spool::open(d / "spool", limits, &error);
    EXPECT_TRUE(s) << error;
    return s;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

TEST(Spool, EntryIsInNewOnlyAfterPutReturned) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    Entry e = sample_entry();
    e.uuid = mpp::store::new_uuid();
    int looked = 0;
    ProbeReader reader(sample_message(), [&] {
        // While the message is being written: it is in tmp/, not in new/.
        ++looked;
        EXPECT_EQ(names_in(d / "spool/tmp"), std::vector<std::string>{e.uuid});
        EXPECT_TRUE(names_in(d / "spool/new").empty());
    });
    PutResult r = spool->put(e, reader);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_GT(looked, 3);
    EXPECT_EQ(r.uuid, e.uuid);
    EXPECT_TRUE(names_in(d / "spool/tmp").empty());
    EXPECT_EQ(names_in(d / "spool/new"), std::vector<std::string>{e.uuid});
    EXPECT_EQ(spool->entries(), 1u);
    struct stat st{};
    ASSERT_EQ(::stat((d / "spool/new/" + e.uuid).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(spool->bytes(), static_cast<std::uint64_t>(st.st_size));
}

TEST(Spool, RoundTripKeepsEveryFieldAndByte) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    Entry e = sample_entry({"bob@example.com", "we ird%20@example.com"});
    e.kind = mpp::store::EntryKind::archive;
    e.subject = "line\r\nX-Injected: yes %41 \xc3\xa9t\xc3\xa9";
    e.reason = std::string("nul\0inside", 10);
    e.recipients[1].group = "sales team";
    e.score = -0.1;
    e.sender = "";
    std::string message = sample_message() + std::string("\0\xff binary\n", 10);
    PutResult r = spool->put(e, message);
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_TRUE(mpp::store::valid_uuid(r.uuid));
    std::string error;
    bool damaged = true;
    auto back = spool->read(r.uuid, &error, &damaged);
    ASSERT_TRUE(back) << error;
    EXPECT_FALSE(damaged);
    const Entry& b = back->entry;
    EXPECT_EQ(b.uuid, r.uuid);
    EXPECT_EQ(b.kind, mpp::store::EntryKind::archive);
    EXPECT_EQ(b.received, e.received);
    EXPECT_EQ(b.subject, e.subject);
    EXPECT_EQ(b.reason, e.reason);
    EXPECT_EQ(b.sender, "");
    EXPECT_EQ(b.score, -0.1);
    ASSERT_EQ(b.recipients.size(), 2u);
    EXPECT_EQ(b.recipients[1].address, "we ird%20@example.com");
    EXPECT_EQ(b.recipients[1].group, "sales team");
    EXPECT_EQ(b.checks, e.checks);
    EXPECT_EQ(b.config_revision, e.config_revision);
    EXPECT_EQ(back->length, message.size());
    EXPECT_EQ(read_all(*back->message), message);
    EXPECT_FALSE(back->message->failed());
}

TEST(Spool, OpenRemovesTmpLeftoversAndListsOldestFirst) {
    TempDir d("mpp-spool");
    std::vector<std::string> uuids;
    {
        auto spool = open_spool(d);
        for (int i = 0; i < 3; ++i) {
            auto r = spool->put(sample_entry(), sample_message());
            ASSERT_TRUE(r.ok());
            uuids.push_back(r.uuid);
        }
    }
    // Make the mtimes say: the second is the oldest.
    timespec times[2] = {{0, UTIME_OMIT}, {1000, 0}};
    ::utimensat(AT_FDCWD, (d / "spool/new/" + uuids[1]).c_str(), times, 0);
    write_file(d / "spool/tmp/" + mpp::store::new_uuid(), "MPP-Spool 1\nuuid: half");
    write_file(d / "spool/tmp/junk", "x");
    write_file(d / "spool/new/not-a-uuid", "x");
    auto spool = open_spool(d);
    EXPECT_TRUE(names_in(d / "spool/tmp").empty());
    EXPECT_EQ(names_in(d / "spool/corrupt"), std::vector<std::string>{"not-a-uuid"});
    auto items = spool->list(10);
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0].uuid, uuids[1]);
    EXPECT_EQ(spool->list(2).size(), 2u);
    EXPECT_EQ(spool->entries(), 3u);
}

TEST(Spool, DamagedFilesAreReportedAndSetAside) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    struct Case {
        const char* name;
        std::function<std::string(const std::string&)> damage;
        const char* expect;
    };
    const std::vector<Case> cases = {
        {"truncated", [](const std::string& f) { return f.substr(0, f.size() - 5); },
         "no end marker"},
        {"flipped byte",
         [](const std::string& f) {
             std::string g = f;
             g[g.find("Buy now")] = 'b';
             return g;
         },
         "checksum mismatch"},
        {"unknown field",
         [](const std::string& f) {
             std::string g = f;
             g.replace(g.find("helo:"), 5, "colr:");
             return g;
         },
         "unknown field \"colr\""},
        {"version", [](const std::string& f) { return "MPP-Spool 9" + f.substr(11); },
         "unknown spool format version \"9\""},
        {"length",
         [](const std::string& f) {
             std::string g = f;
             std::size_t at = g.rfind("MPP-End ") + 8;
             g.replace(at, g.find(' ', at) - at, "5");
             return g;
         },
         "the end marker says 5 message bytes"},
        {"empty", [](const std::string&) { return std::string(); },
         "the file ends inside its metadata"},
        {"not ours", [](const std::string&) { return std::string("From: x\n\nhello\n"); },
         "not a spool file"},
    };
    for (const auto& c : cases) {
        auto r = spool->put(sample_entry(), sample_message());
        ASSERT_TRUE(r.ok());
        const std::string path = d / "spool/new/" + r.uuid;
        write_file(path, c.damage(mpp::testing::read_file(path)));
        std::string error;
        bool damaged = false;
        EXPECT_FALSE(spool->read(r.uuid, &error, &damaged)) << c.name;
        EXPECT_TRUE(damaged) << c.name;
        EXPECT_NE(error.find(c.expect), std::string::npos) << c.name << ": " << error;
        spool->set_aside(r.uuid, error);
        EXPECT_EQ(names_in(d / "spool/new").size(), 0u) << c.name;
    }
    EXPECT_EQ(names_in(d / "spool/corrupt").size(), cases.size());
    EXPECT_EQ(spool->entries(), 0u);
    // Gone is not damaged.
    std::string error;
    bool damaged = true;
    EXPECT_FALSE(spool->read(mpp::store::new_uuid(), &error, &damaged));
    EXPECT_FALSE(damaged);
}

TEST(SpoolFormat, StrictHeaderParsing) {
    std::string error;
    Entry e = sample_entry();
    e.uuid = mpp::store::new_uuid();
    std::string h = mpp::store::encode_header(e, &error);
    ASSERT_FALSE(h.empty()) << error;
    EXPECT_TRUE(mpp::store::parse_header(h, &error));
    EXPECT_FALSE(mpp::store::parse_header(h.substr(0, h.size() - 1), &error));
    EXPECT_EQ(error, "incomplete");
    auto bad = [&](std::string text) {
        std::string why;
        EXPECT_FALSE(mpp::store::parse_header(text, &why)) << text;
        return why;
    };
    const std::string base = "MPP-Spool 1\nuuid: " + e.uuid + "\nkind: quarantine\n";
    EXPECT_EQ(bad(base + "received: 1\n\n"), "no recipient");
    EXPECT_EQ(bad(base + "received: x1\nrecipient: a@b g\n\n"), "line 4: bad received time");
    EXPECT_EQ(bad(base + "received: 1\nreceived: 1\n\n"), "line 5: field \"received\" repeated");
    EXPECT_EQ(bad(base + "received: 1\nrecipient: a@b g\nsubject: %4\n\n"),
              "line 6: bad %XX escape in \"subject\"");
    EXPECT_EQ(bad(base + "received: 1\nrecipient: a@b g h\n\n"),
              "line 5: bad recipient \"a@b g h\"");
    EXPECT_EQ(bad(base + "received: 1\nrecipient: a@b g\nscore: nan\n\n"), "line 6: bad score");
    EXPECT_EQ(bad(base + "received: 1\nrecipient: a@b g\nno colon\n\n"),
              "line 6: not \"NAME: VALUE\"");
    EXPECT_EQ(bad("MPP-Spool 1\nkind: archive\nreceived: 1\nrecipient: a@b g\n\n"),
              "no uuid field");
    e.recipients.clear();
    EXPECT_EQ(mpp::store::encode_header(e, &error), "");
    EXPECT_EQ(error, "entry " + e.uuid + " has no recipients");
}

TEST(Spool, BoundsGiveFullAndFreeAgainAfterRemove) {
    TempDir d("mpp-spool");
    const auto alarms = mpp::metrics::get("spool-alarms").get();
    auto spool = open_spool(d, {5, 1 << 20});
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto r = spool->put(sample_entry(), sample_message());
        ASSERT_TRUE(r.ok()) << r.error;
        ids.push_back(r.uuid);
    }
    EXPECT_EQ(mpp::metrics::get("spool-alarms").get(), alarms + 1);  // at 4 of 5: once
    auto r = spool->put(sample_entry(), sample_message());
    EXPECT_EQ(r.status, PutResult::Status::full);
    EXPECT_NE(r.error.find("holds 5 entries, its bound"), std::string::npos) << r.error;
    EXPECT_EQ(names_in(d / "spool/new").size(), 5u);
    EXPECT_TRUE(names_in(d / "spool/tmp").empty());
    EXPECT_TRUE(spool->remove(ids[0]));
    EXPECT_FALSE(spool->remove(ids[0]));
    EXPECT_TRUE(spool->put(sample_entry(), sample_message()).ok());

    // Bytes: a message that would pass the byte bound.
    TempDir d2("mpp-spool");
    auto small = open_spool(d2, {100, 4096});
    EXPECT_TRUE(small->put(sample_entry(), std::string(1000, 'x')).ok());
    r = small->put(sample_entry(), std::string(4000, 'x'));
    EXPECT_EQ(r.status, PutResult::Status::full) << r.error;
    EXPECT_EQ(small->entries(), 1u);
    EXPECT_TRUE(names_in(d2 / "spool/tmp").empty());
}

TEST(Spool, WriteFailureIsFullAndLeavesNothing) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    // RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), the same path as ENOSPC.
    struct sigaction ign{}, old{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ign, &old);
    rlimit saved{};
    ::getrlimit(RLIMIT_FSIZE, &saved);
    rlimit tiny = saved;
    tiny.rlim_cur = 2000;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tiny), 0);
    auto r = spool->put(sample_entry(), std::string(100000, 'x'));
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::sigaction(SIGXFSZ, &old, nullptr);
    EXPECT_EQ(r.status, PutResult::Status::full);
    EXPECT_NE(r.error.find("File too large"), std::string::npos) << r.error;
    EXPECT_TRUE(names_in(d / "spool/tmp").empty());
    EXPECT_TRUE(names_in(d / "spool/new").empty());
    EXPECT_EQ(spool->entries(), 0u);
    EXPECT_TRUE(spool->put(sample_entry(), sample_message()).ok());
}

TEST(Spool, FailingReaderLeavesNothing) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    ProbeReader reader(sample_message(), {}, 20);
    auto r = spool->put(sample_entry(), reader);
    EXPECT_EQ(r.status, PutResult::Status::error);
    EXPECT_NE(r.error.find("the test's reader failed"), std::string::npos) << r.error;
    EXPECT_TRUE(names_in(d / "spool/tmp").empty());
    EXPECT_TRUE(names_in(d / "spool/new").empty());
    Entry no_rcpt = sample_entry();
    no_rcpt.recipients.clear();
    EXPECT_EQ(spool->put(no_rcpt, sample_message()).status, PutResult::Status::error);
}

TEST(Spool, ConcurrentPutsAreAllThere) {
    TempDir d("mpp-spool");
    auto spool = open_spool(d);
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i)
                if (!spool->put(sample_entry(), sample_message()).ok()) ++failed;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(spool->entries(), 200u);
    EXPECT_EQ(names_in(d / "spool/new").size(), 200u);
    for (const auto& item : spool->list(1000)) {
        std::string error;
        EXPECT_TRUE(spool->read(item.uuid, &error)) << error;
    }
}

TEST(Spool, ASecondSpoolOnTheSameDirectoryIsRefused) {
    TempDir d("mpp-spool");
    auto first = open_spool(d);
    std::string error;
    EXPECT_FALSE(Spool::open(d / "spool", {}, &error));
    EXPECT_NE(error.find("in use by another mppd"), std::string::npos) << error;
    first.reset();
    EXPECT_TRUE(Spool::open(d / "spool", {}, &error)) << error;
}

}  // namespace
