// t/store/maildir_test.cc: the maildir store on real files in a temp dir: the path template's
// macros with ordinary and hostile addresses (nothing reaches outside the template's prefix);
// one copy per recipient, each naming only its own recipient, with the original bytes after
// the X-MPP-* lines; a second write of the same uuid stores nothing; list and search by
// recipient, domain, sender, subject and date; show, fetch (also after a mail reader moved
// the copy to cur/), per-recipient and whole delete; the index survives a reopen and a torn
// last line.
#include "store/maildir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <fstream>

#include "store/maildir_path.h"
#include "store/uuid.h"
#include "t/store/store_test_util.h"
#include "t/temp_dir.h"

namespace {

using mpp::store::Entry;
using mpp::store::Filter;
using mpp::store::MaildirStore;
using mpp::store::maildir_path;
using mpp::store::Removed;
using mpp::testing::names_in;
using mpp::testing::read_file;
using mpp::testing::sample_entry;
using mpp::testing::sample_message;
using mpp::testing::TempDir;

std::string expand(const std::string& tmpl, const std::string& addr,
                   const std::string& group = "default") {
    std::string error;
    auto p = maildir_path(tmpl, addr, group, 1700000000, &error);
    return p ? *p : "ERROR: " + error;
}

TEST(MaildirPath, Macros) {
    EXPECT_EQ(expand("/q/%D%/%U%", "Bob.Smith@Example.COM"), "/q/example.com/bob.smith");
    EXPECT_EQ(expand("/q/%D1%/%D2%/%D%/%U1%/%U2%/%U%", "bob@example.com"),
              "/q/e/x/example.com/b/o/bob");
    EXPECT_EQ(expand("/q/%GROUP%/%DATE%/%U%", "bob@example.com", "Sales"),
              "/q/sales/20231114/bob");
    EXPECT_EQ(expand("/q/%U1%%U2%/%U%", "x@example.com"), "/q/x_/x");
    EXPECT_EQ(expand("/q/%D%/%U%/", "<bob@example.com>"), "/q/example.com/bob");
    EXPECT_EQ(expand("/q/%D%/%U%", "postmaster"), "/q/_/postmaster");
    EXPECT_EQ(expand("q/%U%", "bob@example.com").rfind("ERROR: ", 0), 0u);
}

TEST(MaildirPath, HostileAddressesStayInsideThePrefix) {
    const std::vector<std::string> hostile = {
        "../../etc/passwd@example.com", "..@..",         "a/b@c/d",
        "./@.",                         "bob@../../x",   std::string("nu\0l@x", 6),
        "cr\r\nlf@example.com",         ".hidden@x",     "\xc3\xa9t\xc3\xa9@example.com",
        std::string(600, 'a') + "@x",   "%2e%2e@x",      "@",
    };
    std::set<std::string> seen;
    for (const auto& a : hostile) {
        std::string p = expand("/q/%D1%/%D%/%U1%/%U%", a);
        ASSERT_EQ(p.rfind("/q/", 0), 0u) << p;
        for (auto part : std::filesystem::path(p)) {
            EXPECT_NE(part, "..") << a << " -> " << p;
            EXPECT_NE(part, ".") << a << " -> " << p;
            EXPECT_LE(part.string().size(), mpp::store::kMaxComponent) << p;
        }
        for (char c : p) EXPECT_TRUE(static_cast<unsigned char>(c) > 0x20 && c != 0x7f) << p;
        EXPECT_EQ(std::count(p.begin(), p.end(), '/'), 5) << a << " -> " << p;
        seen.insert(p);
    }
    EXPECT_EQ(seen.size(), hostile.size());  // no two addresses share a maildir
    EXPECT_EQ(expand("/q/%U%", "../../etc@x"), "/q/%2E.%2F..%2Fetc");
    EXPECT_EQ(expand("/q/%U%", "%2e%2e@x"), "/q/%252e%252e");
}

struct Fixture {
    TempDir dir{"mpp-maildir"};
    std::unique_ptr<MaildirStore> store;
    explicit Fixture(const std::string& tmpl = "%D%/%U%") { open(tmpl); }
    void open(const std::string& tmpl = "%D%/%U%") {
        store.reset();
        MaildirStore::Settings s;
        s.path_template = dir / "q/" + tmpl;
        s.index_path = dir / "maildir.index";
        s.host = "gw1";
        std::string error;
        store = MaildirStore::open(s, &error);
        ASSERT_TRUE(store) << error;
    }
    std::string put(Entry e, const std::string& message = sample_message()) {
        if (e.uuid.empty()) e.uuid = mpp::store::new_uuid();
        auto reader = mpp::engines::memory_reader(message);
        std::string error;
        EXPECT_TRUE(store->write(e, *reader, &error)) << error;
        return e.uuid;
    }
    std::string fetch(const std::string& uuid) {
        std::string out, error;
        if (!store->fetch(uuid, [&](std::string_view p) { out.append(p); return true; }, &error))
            return "ERROR: " + error;
        return out;
    }
};

TEST(Maildir, OneCopyPerRecipientWithTheOriginalBytes) {
    Fixture f;
    Entry e = sample_entry({"bob@example.com", "Carol@Example.NET"});
    e.sender = "evil@example.org\r\nX-Injected: yes";
    const std::string uuid = f.put(e);
    auto bob = names_in(f.dir / "q/example.com/bob/new");
    auto carol = names_in(f.dir / "q/example.net/carol/new");
    ASSERT_EQ(bob.size(), 1u);
    ASSERT_EQ(carol.size(), 1u);
    EXPECT_EQ(bob[0], "1700000000." + uuid + "_0.gw1");
    EXPECT_TRUE(names_in(f.dir / "q/example.com/bob/tmp").empty());
    EXPECT_TRUE(names_in(f.dir / "q/example.com/bob/cur").empty());
    const std::string b = read_file(f.dir / "q/example.com/bob/new/" + bob[0]);
    const std::string c = read_file(f.dir / "q/example.net/carol/new/" + carol[0]);
    Entry stored = e;
    stored.uuid = uuid;
    const std::string prefix = mpp::store::maildir_prefix(stored, 0, true);
    EXPECT_EQ(b, prefix + sample_message());
    EXPECT_EQ(b.rfind("X-MPP-Store-Id: " + uuid + "\r\n", 0), 0u);
    EXPECT_NE(b.find("X-MPP-Envelope-To: <bob@example.com>\r\n"), std::string::npos);
    EXPECT_EQ(b.find("Carol"), std::string::npos);  // a copy names only its own recipient
    EXPECT_EQ(c.substr(0, c.find("From: alice")).find("bob"), std::string::npos);
    EXPECT_NE(c.find("X-MPP-Envelope-To: <Carol@Example.NET>"), std::string::npos);
    // The hostile sender stays on one header line.
    EXPECT_NE(b.find("X-MPP-Envelope-From: <evil@example.org%0D%0AX-Injected: yes>\r\n"),
              std::string::npos);
    EXPECT_EQ(b.find("\nX-Injected"), std::string::npos);
    EXPECT_EQ(c.substr(c.size() - sample_message().size()), sample_message());
    struct stat st{};
    ASSERT_EQ(::stat((f.dir / "q/example.com/bob").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_EQ(f.fetch(uuid), sample_message());
}

TEST(Maildir, SecondWriteOfTheSameUuidStoresNothing) {
    Fixture f;
    Entry e = sample_entry({"bob@example.com", "carol@example.com"});
    e.uuid = mpp::store::new_uuid();
    f.put(e);
    f.put(e);
    f.open();  // and after a restart
    f.put(e);
    EXPECT_EQ(names_in(f.dir / "q/example.com/bob/new").size(), 1u);
    EXPECT_EQ(names_in(f.dir / "q/example.com/carol/new").size(), 1u);
    EXPECT_EQ(f.store->size(), 1u);
}

TEST(Maildir, ListSearchShowDelete) {
    Fixture f;
    Entry a = sample_entry({"bob@example.com", "carol@example.net"});
    a.received = 1700000000;
    a.subject = "Cheap WATCHES";
    Entry b = sample_entry({"bob@example.com"});
    b.received = 1700086400;  // a day later
    b.sender = "";
    b.subject = "Delivery failure";
    Entry c = sample_entry({"dave@example.net"});
    c.received = 1700172800;
    c.kind = mpp::store::EntryKind::archive;
    const std::string ua = f.put(a), ub = f.put(b), uc = f.put(c);
    std::string error;
    auto list = [&](Filter flt) {
        std::vector<std::string> out;
        auto rows = f.store->list(flt, &error);
        for (const auto& r : rows.value()) out.push_back(r.uuid + " " + r.recipient);
        return out;
    };
    Filter all;
    EXPECT_EQ(list(all), (std::vector<std::string>{ub + " bob@example.com", ua + " bob@example.com",
                                                   ua + " carol@example.net"}));
    Filter by;
    by.recipient = "@EXAMPLE.net";
    EXPECT_EQ(list(by), (std::vector<std::string>{ua + " carol@example.net"}));
    by = {};
    by.recipient = "BOB@example.com";
    EXPECT_EQ(list(by).size(), 2u);
    by = {};
    by.sender = "<>";
    EXPECT_EQ(list(by), (std::vector<std::string>{ub + " bob@example.com"}));
    by = {};
    by.sender = "@example.org";
    EXPECT_EQ(list(by).size(), 2u);
    by = {};
    by.subject = "watches";
    EXPECT_EQ(list(by).size(), 2u);
    by = {};
    by.since = 1700050000;
    EXPECT_EQ(list(by), (std::vector<std::string>{ub + " bob@example.com"}));
    by = {};
    by.until = 1700050000;
    EXPECT_EQ(list(by).size(), 2u);
    by = {};
    by.kind = mpp::store::EntryKind::archive;
    EXPECT_EQ(list(by), (std::vector<std::string>{uc + " dave@example.net"}));
    by = {};
    by.limit = 1;
    EXPECT_EQ(list(by).size(), 1u);

    auto shown = f.store->show(ua, &error);
    ASSERT_TRUE(shown);
    EXPECT_EQ(shown->entry.recipients.size(), 2u);
    EXPECT_EQ(shown->entry.subject, "Cheap WATCHES");
    EXPECT_EQ(shown->body_size, sample_message().size());
    EXPECT_FALSE(f.store->show(mpp::store::new_uuid(), &error));
    EXPECT_EQ(error, "");

    // Per recipient, then the rest.
    EXPECT_EQ(*f.store->remove(ua, "nobody@example.com", &error), Removed::nothing);
    EXPECT_EQ(*f.store->remove(ua, "Carol@Example.net", &error), Removed::recipient);
    EXPECT_TRUE(names_in(f.dir / "q/example.net/carol/new").empty());
    EXPECT_EQ(names_in(f.dir / "q/example.com/bob/new").size(), 2u);
    EXPECT_EQ(f.store->show(ua, &error)->entry.recipients.size(), 1u);
    EXPECT_EQ(f.fetch(ua), sample_message());
    EXPECT_EQ(*f.store->remove(ua, "", &error), Removed::entry);
    EXPECT_EQ(names_in(f.dir / "q/example.com/bob/new").size(), 1u);
    EXPECT_FALSE(f.store->show(ua, &error));
    EXPECT_EQ(*f.store->remove(ua, "", &error), Removed::nothing);

    // A release mark, then everything again after a reopen.
    EXPECT_TRUE(f.store->mark_released(ub, "bob@example.com", &error)) << error;
    EXPECT_FALSE(f.store->mark_released(ub, "eve@example.com", &error));
    f.open();
    EXPECT_EQ(f.store->size(), 2u);
    EXPECT_FALSE(f.store->show(ua, &error));
    auto b_shown = f.store->show(ub, &error);
    ASSERT_TRUE(b_shown);
    ASSERT_EQ(b_shown->released.size(), 1u);
    EXPECT_GT(b_shown->released[0], 0);
    Filter l;
    EXPECT_GT((*f.store->list(l, &error))[0].released, 0);
}

TEST(Maildir, FetchFindsACopyAReaderMovedToCur) {
    Fixture f;
    const std::string uuid = f.put(sample_entry({"bob@example.com", "carol@example.com"}));
    const std::string bob = f.dir / "q/example.com/bob";
    const std::string name = names_in(bob + "/new")[0];
    ASSERT_EQ(::rename((bob + "/new/" + name).c_str(), (bob + "/cur/" + name + ":2,S").c_str()), 0);
    EXPECT_EQ(f.store->copy_path(uuid, 0), bob + "/cur/" + name + ":2,S");
    EXPECT_EQ(f.fetch(uuid), sample_message());
    // The reader deleted both copies: fetch says so; delete still works.
    ::unlink((bob + "/cur/" + name + ":2,S").c_str());
    const std::string carol = f.dir / "q/example.com/carol/new";
    ::unlink((carol + "/" + names_in(carol)[0]).c_str());
    EXPECT_NE(f.fetch(uuid).find("no copy of " + uuid + " is left"), std::string::npos);
    std::string error;
    EXPECT_EQ(*f.store->remove(uuid, "", &error), Removed::entry);
}

TEST(Maildir, IndexSurvivesATornLastLineAndSkipsDamagedLines) {
    Fixture f;
    const std::string u1 = f.put(sample_entry());
    const std::string u2 = f.put(sample_entry());
    f.store.reset();
    {
        std::ofstream out(f.dir / "maildir.index", std::ios::app | std::ios::binary);
        out << "E uuid=garbage\nQ what\nE uuid=" << mpp::store::new_uuid() << " kind=quar";
    }
    f.open();
    EXPECT_EQ(f.store->size(), 2u);
    const std::string text = read_file(f.dir / "maildir.index");
    EXPECT_EQ(text.back(), '\n');  // the torn line was cut off
    const std::string u3 = f.put(sample_entry());
    f.open();
    EXPECT_EQ(f.store->size(), 3u);
    std::string error;
    EXPECT_TRUE(f.store->show(u1, &error));
    EXPECT_TRUE(f.store->show(u3, &error));
}

TEST(Maildir, WriteFailureNamesThePath) {
    Fixture f("%D%/%U%");
    // A regular file where the domain's directory would go.
    std::filesystem::create_directories(f.dir / "q");
    std::ofstream(f.dir / "q/example.com") << "x";
    Entry e = sample_entry();
    e.uuid = mpp::store::new_uuid();
    auto reader = mpp::engines::memory_reader(sample_message());
    std::string error;
    EXPECT_FALSE(f.store->write(e, *reader, &error));
    EXPECT_NE(error.find(f.dir / "q/example.com"), std::string::npos) << error;
    EXPECT_EQ(f.store->size(), 0u);
}

}  // namespace
