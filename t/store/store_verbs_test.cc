// t/store/store_verbs_test.cc: the daemon's Store (spool, drainer thread, maildir store) and the
// `quarantine` and `store` control verbs over it, in a temp dir: the milter's hook returns ""
// only once the entry is in spool/new; the drainer moves it to the maildir; list (filters and
// output line), show (metadata and the message's header), release through a sendmail script
// (and Store::released for the milter), delete per recipient and whole; bad arguments get ERR
// with the usage. Also the local tracking log's line and its rotation.
#include "milter/store_verbs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "store/maildir.h"
#include "store/tracking_log.h"
#include "store/uuid.h"
#include "t/store/store_test_util.h"
#include "t/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using mpp::control::Request;
using mpp::control::Response;
using mpp::store::Store;
using mpp::testing::names_in;
using mpp::testing::read_file;
using mpp::testing::sample_entry;
using mpp::testing::sample_message;
using mpp::testing::TempDir;

struct Rig {
    TempDir dir{"mpp-verbs"};
    mpp::FakeClock clock;
    std::unique_ptr<Store> store;
    std::vector<mpp::milter::StoreVerb> verbs;
    Rig() {
        mpp::config::Config cfg;
        cfg.daemon.state_dir = dir.path;
        cfg.store.spool = dir / "spool";
        cfg.store.maildir = dir / "q/%D%/%U%";
        cfg.store.release_sendmail = dir / "sendmail";
        std::ofstream out(cfg.store.release_sendmail);
        out << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" << dir.path
            << "/argv'\ncat > '" << dir.path << "/stdin'\n";
        out.close();
        ::chmod(cfg.store.release_sendmail.c_str(), 0755);
        std::string error;
        store = mpp::milter::open_store(cfg, &error);
        EXPECT_TRUE(store) << error;
        verbs = mpp::milter::store_verbs(*store, clock);
    }
    Response call(std::vector<std::string> args, const std::string& verb = "quarantine") {
        for (auto& v : verbs)
            if (v.verb == verb) return v.handler(Request{verb, std::move(args)});
        return Response{};
    }
    // Quarantines through the milter's hook and waits for the drainer.
    std::string quarantine(mpp::store::Entry e) {
        e.uuid = mpp::store::new_uuid();
        std::string why =
            store->quarantine(e, [] { return mpp::engines::memory_reader(sample_message()); });
        EXPECT_EQ(why, "");
        for (int i = 0; i < 300 && store->spool().entries() > 0; ++i)
            std::this_thread::sleep_for(10ms);
        EXPECT_EQ(store->spool().entries(), 0u);
        return e.uuid;
    }
};

TEST(StoreVerbs, QuarantineListShowReleaseDelete) {
    Rig r;
    auto a = sample_entry({"bob@example.com", "carol@example.net"});
    auto b = sample_entry({"dave@example.com"});
    b.received = 1700086400;
    b.subject = "Invoice";
    const std::string ua = r.quarantine(a), ub = r.quarantine(b);

    Response list = r.call({"list"});
    ASSERT_TRUE(list.ok) << list.status_text;
    ASSERT_EQ(list.lines.size(), 3u);
    EXPECT_EQ(list.lines[0], ub +
                                 " 2023-11-15T22:13:20Z <dave@example.com> from=<alice@example.org>"
                                 " size=0 score=7.5 verdict=quarantine subject=\"Invoice\"");
    EXPECT_EQ(list.status_text, "3 row(s)");
    EXPECT_EQ(r.call({"list", "--domain", "example.net"}).lines.size(), 1u);
    EXPECT_EQ(r.call({"list", "--rcpt", "<BOB@example.com>"}).lines.size(), 1u);
    EXPECT_EQ(r.call({"list", "--subject", "invoice"}).lines.size(), 1u);
    EXPECT_EQ(r.call({"list", "--since", "2023-11-15"}).lines.size(), 1u);
    EXPECT_EQ(r.call({"list", "--until", "2023-11-15T00:00:00Z"}).lines.size(), 2u);
    EXPECT_EQ(r.call({"list", "--from", "@example.org", "--limit", "2"}).lines.size(), 2u);
    EXPECT_EQ(r.call({"list", "--kind", "archive"}).lines.size(), 0u);

    Response show = r.call({"show", ua});
    ASSERT_TRUE(show.ok) << show.status_text;
    auto has = [&](const std::string& l) {
        return std::find(show.lines.begin(), show.lines.end(), l) != show.lines.end();
    };
    EXPECT_TRUE(has("uuid: " + ua));
    EXPECT_TRUE(has("recipient: <carol@example.net> group=default"));
    EXPECT_TRUE(has("client: mail.example.org [192.0.2.7]"));
    EXPECT_TRUE(has("header:"));
    EXPECT_TRUE(has("  Subject: Cheap watches"));
    EXPECT_FALSE(has("  Buy now."));  // the header only

    EXPECT_FALSE(r.store->released(ua));
    Response rel = r.call({"release", ua, "--rcpt", "carol@example.net"});
    ASSERT_TRUE(rel.ok) << rel.status_text;
    EXPECT_EQ(rel.status_text, "released " + ua + " to <carol@example.net> via sendmail " +
                                   r.dir / "sendmail");
    EXPECT_EQ(read_file(r.dir / "argv"), "-i\n-f\nalice@example.org\n--\ncarol@example.net\n");
    EXPECT_TRUE(r.store->released(ua));
    EXPECT_FALSE(r.store->released(ub));
    EXPECT_NE(r.call({"list", "--domain", "example.net"}).lines.at(0).find(" released="),
              std::string::npos);

    Response del = r.call({"delete", ua, "--rcpt", "bob@example.com"});
    EXPECT_TRUE(del.ok) << del.status_text;
    EXPECT_EQ(r.call({"list"}).lines.size(), 2u);
    del = r.call({"delete", ua});
    EXPECT_EQ(del.status_text, "deleted " + ua);
    EXPECT_FALSE(r.call({"delete", ua}).ok);
    EXPECT_FALSE(r.call({"show", ua}).ok);
    EXPECT_EQ(r.call({"list"}).lines.size(), 1u);

    Response st = r.call({}, "store");
    ASSERT_TRUE(st.ok);
    ASSERT_EQ(st.lines.size(), 2u);
    EXPECT_NE(st.lines[0].find(" 0 entries"), std::string::npos) << st.lines[0];
    EXPECT_EQ(st.lines[1], "drain: maildir ok, 2 drained since start");
}

TEST(StoreVerbs, BadArgumentsGetTheUsage) {
    Rig r;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {},
             {"frobnicate"},
             {"show"},
             {"show", "not-a-uuid"},
             {"list", "--limit", "0"},
             {"list", "--since", "yesterday"},
             {"list", "--rcpt"},
             {"list", "--colour", "red"},
             {"delete", mpp::store::new_uuid(), "--to", "x@y"},
             {"release", mpp::store::new_uuid(), "--bcc", "x@y"},
         }) {
        Response resp = r.call(args);
        EXPECT_FALSE(resp.ok);
        EXPECT_NE(resp.status_text.find("; usage: quarantine list"), std::string::npos)
            << resp.status_text;
    }
    Response none = r.call({"show", mpp::store::new_uuid()});
    EXPECT_FALSE(none.ok);
    EXPECT_EQ(none.status_text.rfind("no entry ", 0), 0u);
    EXPECT_FALSE(r.call({"release", mpp::store::new_uuid()}).ok);
}

TEST(StoreVerbs, TheHookFailsWhenTheSpoolIsFull) {
    Rig r;
    mpp::config::Config cfg;
    cfg.daemon.state_dir = r.dir.path;
    cfg.store.spool_max_entries = 1;
    r.store->drainer().stop();  // keep what is spooled
    r.store->set_config(cfg);
    auto e = sample_entry();
    auto open = [] { return mpp::engines::memory_reader(sample_message()); };
    EXPECT_EQ(r.store->quarantine(e, open), "");
    EXPECT_NE(r.store->quarantine(e, open).find("its bound"), std::string::npos);
    EXPECT_EQ(names_in(r.dir / "spool/new").size(), 1u);
}

TEST(TrackingLog, OneLinePerMessageAndRotation) {
    TempDir d("mpp-track");
    mpp::store::TrackingRecord t;
    t.uuid = "0b7d1f3e-5c2a-4d6b-9e8f-123456789abc";
    t.received = 1700000000;
    t.queue_id = "4XyZ1";
    t.message_id = "<m 1@x>";
    t.client_ip = "192.0.2.7";
    t.client_name = "mail.example.org";
    t.helo = "evil\r\nhelo";
    t.sender = "a@example.org";
    t.rcpt_count = 2;
    t.size = 1234;
    t.score = 7.5;
    t.checks = "spamd:sa(7.5) rbl:zen(6)";
    t.verdict = "quarantine";
    t.groups = "default sales";
    t.config_revision = "3f2a9c1d";
    EXPECT_EQ(mpp::store::tracking_line(t, false),
              "2023-11-14T22:13:20Z uuid=0b7d1f3e-5c2a-4d6b-9e8f-123456789abc qid=4XyZ1 "
              "msgid=<m%201@x> client=mail.example.org[192.0.2.7] helo=evil%0D%0Ahelo "
              "from=<a@example.org> nrcpt=2 size=1234 score=7.5 verdict=quarantine "
              "groups=default,sales rev=3f2a9c1d");
    EXPECT_NE(mpp::store::tracking_line(t, true).find(" checks=spamd:sa(7.5)%20rbl:zen(6) "),
              std::string::npos);
    mpp::store::TrackingLog::Settings s;
    s.path = d / "tracking.log";
    s.rotate_size = 1000;
    s.keep = 2;
    std::string error;
    auto log = mpp::store::TrackingLog::open(s, &error);
    ASSERT_TRUE(log) << error;
    for (int i = 0; i < 20; ++i) log->write(t);
    EXPECT_EQ(names_in(d.path), (std::vector<std::string>{"tracking.log", "tracking.log.1",
                                                          "tracking.log.2"}));
    for (const std::string f : {"tracking.log", "tracking.log.1"}) {
        std::string text = read_file(d / f);
        EXPECT_LE(text.size(), 1000u);
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << f;
    }
}

}  // namespace
