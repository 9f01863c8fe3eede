// t/store/release_test.cc: releasing from the maildir store through real submission paths: a
// sendmail-compatible script (it records its argument vector and standard input) and SMTP to
// an in-process sink (t/store/smtp_sink.h). Asserts the original envelope (sender and the
// stored recipients), the X-MPP-Released line before the original bytes, per-recipient release
// and --to, the released marks, and that a refused submission marks nothing.
#include "store/release.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "store/maildir.h"
#include "store/uuid.h"
#include "t/store/smtp_sink.h"
#include "t/store/store_test_util.h"
#include "t/temp_dir.h"

namespace {

using mpp::store::Entry;
using mpp::store::MaildirStore;
using mpp::store::release;
using mpp::store::ReleaseRequest;
using mpp::store::ReleaseSettings;
using mpp::testing::read_file;
using mpp::testing::sample_entry;
using mpp::testing::sample_message;
using mpp::testing::TempDir;

struct Rig {
    TempDir dir{"mpp-release"};
    std::unique_ptr<MaildirStore> store;
    ReleaseSettings settings;
    Rig() {
        MaildirStore::Settings s;
        s.path_template = dir / "q/%D%/%U%";
        s.index_path = dir / "maildir.index";
        std::string error;
        store = MaildirStore::open(s, &error);
        EXPECT_TRUE(store) << error;
        settings.sendmail = dir / "sendmail";
        std::ofstream out(settings.sendmail);
        out << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '" << dir.path
            << "/argv'\ncat >> '" << dir.path << "/stdin'\n";
        out.close();
        ::chmod(settings.sendmail.c_str(), 0755);
    }
    std::string put(Entry e) {
        e.uuid = mpp::store::new_uuid();
        auto reader = mpp::engines::memory_reader(sample_message());
        std::string error;
        EXPECT_TRUE(store->write(e, *reader, &error)) << error;
        return e.uuid;
    }
    std::int64_t released(const std::string& uuid, std::size_t i) {
        std::string error;
        return store->show(uuid, &error)->released.at(i);
    }
};

// sample_message() as the sendmail program gets it (LF line ends).
std::string lf(std::string s) {
    for (std::size_t at; (at = s.find("\r\n")) != std::string::npos;) s.erase(at, 1);
    return s;
}

TEST(Release, SendmailGetsTheOriginalEnvelopeAndMessage) {
    Rig r;
    const std::string uuid = r.put(sample_entry({"bob@example.com", "carol@example.net"}));
    auto res = release(*r.store, {uuid, {}, ""}, r.settings);
    ASSERT_TRUE(res.ok()) << res.error;
    EXPECT_EQ(read_file(r.dir / "argv"),
              "-i\n-f\nalice@example.org\n--\nbob@example.com\ncarol@example.net\n");
    EXPECT_EQ(read_file(r.dir / "stdin"), "X-MPP-Released: " + uuid + "\n" + lf(sample_message()));
    EXPECT_EQ(res.via, "sendmail " + r.settings.sendmail);
    EXPECT_GT(r.released(uuid, 0), 0);
    EXPECT_GT(r.released(uuid, 1), 0);
    // Everyone has it: a second release must name a recipient.
    auto again = release(*r.store, {uuid, {}, ""}, r.settings);
    EXPECT_NE(again.error.find("released to every recipient already"), std::string::npos)
        << again.error;
}

TEST(Release, OneRecipientOrAnotherAddress) {
    Rig r;
    const std::string uuid = r.put(sample_entry({"bob@example.com", "carol@example.net"}));
    auto res = release(*r.store, {uuid, {"CAROL@example.net"}, ""}, r.settings);
    ASSERT_TRUE(res.ok()) << res.error;
    EXPECT_EQ(read_file(r.dir / "argv"), "-i\n-f\nalice@example.org\n--\ncarol@example.net\n");
    EXPECT_EQ(r.released(uuid, 0), 0);
    EXPECT_GT(r.released(uuid, 1), 0);
    // The rest (bob) to the admin's address instead.
    std::filesystem::remove(r.dir / "argv");
    res = release(*r.store, {uuid, {}, "admin@example.com"}, r.settings);
    ASSERT_TRUE(res.ok()) << res.error;
    EXPECT_EQ(read_file(r.dir / "argv"), "-i\n-f\nalice@example.org\n--\nadmin@example.com\n");
    EXPECT_EQ(res.released, std::vector<std::string>{"bob@example.com"});
    EXPECT_GT(r.released(uuid, 0), 0);
}

TEST(Release, RefusalsMarkNothing) {
    Rig r;
    const std::string uuid = r.put(sample_entry({"bob@example.com"}));
    auto res = release(*r.store, {uuid, {"eve@example.com"}, ""}, r.settings);
    EXPECT_EQ(res.error, "entry " + uuid + " has no recipient eve@example.com");
    res = release(*r.store, {mpp::store::new_uuid(), {}, ""}, r.settings);
    EXPECT_EQ(res.error.rfind("no entry ", 0), 0u) << res.error;
    EXPECT_FALSE(std::filesystem::exists(r.dir / "argv"));  // nothing was run
    {
        std::ofstream out(r.settings.sendmail, std::ios::trunc);
        out << "#!/bin/sh\ncat >/dev/null\necho 'queue file write error' >&2\nexit 75\n";
    }
    res = release(*r.store, {uuid, {}, ""}, r.settings);
    EXPECT_NE(res.error.find("exit status 75: queue file write error"), std::string::npos)
        << res.error;
    EXPECT_EQ(r.released(uuid, 0), 0);
}

TEST(Release, SmtpRelayGetsTheOriginalBytes) {
    Rig r;
    Entry e = sample_entry({"bob@example.com", "carol@example.net"});
    e.sender = "";  // a bounce: the null sender
    const std::string uuid = r.put(e);
    mpp::testing::SmtpSink sink;
    sink.start();
    r.settings.relay = sink.relay();
    auto res = release(*r.store, {uuid, {}, ""}, r.settings);
    sink.join();
    ASSERT_TRUE(res.ok()) << res.error;
    EXPECT_EQ(res.via, "smtp " + sink.relay());
    EXPECT_EQ(sink.mail_from.substr(0, 2), "<>");
    EXPECT_EQ(sink.rcpt_to,
              (std::vector<std::string>{"<bob@example.com>", "<carol@example.net>"}));
    EXPECT_EQ(sink.data, "X-MPP-Released: " + uuid + "\r\n" + sample_message());
    EXPECT_GT(r.released(uuid, 1), 0);
}

TEST(Release, SmtpRefusalMarksNothing) {
    Rig r;
    const std::string uuid = r.put(sample_entry({"bob@example.com"}));
    mpp::testing::SmtpSink sink;
    sink.refuse_rcpt = "<bob@example.com>";
    sink.start();
    r.settings.relay = sink.relay();
    auto res = release(*r.store, {uuid, {}, ""}, r.settings);
    sink.join();
    EXPECT_FALSE(res.ok());
    EXPECT_NE(res.error.find("not released"), std::string::npos) << res.error;
    EXPECT_EQ(r.released(uuid, 0), 0);
}

}  // namespace
