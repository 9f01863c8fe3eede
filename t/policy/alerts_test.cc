// t/policy/alerts_test.cc: alert mail (policy/alerts.h) through real sendmail-compatible
// scripts written into a temp dir (each run records its arguments and the message): the mail's
// headers and body, recipient selection, the rate limit per (group, rule, key) with a FakeClock,
// the bounded rate table, the bounded queue while the sender is busy, a reload switching the
// program, failures counted and logged, and close() with a hung program.
#include "policy/alerts.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "lib/log.h"
#include "lib/metrics.h"
#include "t/policy/policy_test_util.h"
#include "t/temp_dir.h"

namespace mpp::policy {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using mpp::testing::TempDir;

// The file's contents.
std::string read(const std::string& path) { return mpp::testing::read_file(path); }

// A sendmail that stores each run as DIR/out/N.argv and DIR/out/N.msg (N its pid); `before`
// runs first.
std::string recorder(const TempDir& d, const std::string& name, const std::string& before = "") {
    fs::create_directories(d / "out");
    std::string path = d / name;
    {
        std::ofstream out(path);
        out << "#!/bin/sh\n"
            << before << "o='" << d.path << "/out'/$$\n"
            << "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$o.argv.tmp\"\n"
            << "cat > \"$o.msg.tmp\"\n"
            << "mv \"$o.argv.tmp\" \"$o.argv\"; mv \"$o.msg.tmp\" \"$o.msg\"\n";
    }
    ::chmod(path.c_str(), 0755);
    return path;
}

// The messages recorded so far: (argv, message) per run.
std::vector<std::pair<std::string, std::string>> runs(const TempDir& d) {
    std::vector<std::pair<std::string, std::string>> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d / "out", ec)) {
        auto p = e.path().string();
        if (p.size() > 4 && p.substr(p.size() - 4) == ".msg")
            out.emplace_back(read(p.substr(0, p.size() - 4) + ".argv"), read(p));
    }
    return out;
}

// <alerts> with this program; `extra` attributes override from, to and min-interval.
std::shared_ptr<const config::Config> config_for(const std::string& sendmail,
                                                 const std::string& extra = "") {
    std::string attrs = " sendmail=\"" + sendmail + "\" " + extra;
    if (extra.find("from=") == std::string::npos) attrs += " from=\"mppd@gw.example\"";
    if (extra.find("to=") == std::string::npos) attrs += " to=\"postmaster@example.org\"";
    return test::load("<alerts" + attrs + "/>");
}

ThresholdAlert alert(const std::string& key, const std::string& rule = "burst",
                     std::vector<std::string> to = {}) {
    ThresholdAlert a;
    a.group = "default";
    a.rule = rule;
    a.key = key;
    a.action = config::ThresholdAction::defer;
    a.messages = 60;
    a.spams = 2;
    a.to = std::move(to);
    a.period = 30s;
    a.block_for = 1h;
    return a;
}

// An AlertSender over a snapshot the test can swap.
struct Fixture {
    FakeClock clock;
    std::shared_ptr<const config::Config> config;
    AlertSender sender;
    explicit Fixture(std::shared_ptr<const config::Config> c, AlertSender::Options o = {})
        : config(std::move(c)), sender(clock, [this] { return config; }, with_host(o)) {}
    static AlertSender::Options with_host(AlertSender::Options o) {
        o.hostname = "gw1.example";
        return o;
    }
};

std::int64_t metric(const char* name) { return metrics::get(name).get(); }

TEST(Alerts, MessageHeadersAndBody) {
    config::AlertsCfg cfg;
    cfg.from = "mppd@gw.example";
    cfg.to = {"postmaster@example.org"};
    cfg.min_interval = 600s;
    auto now = std::chrono::system_clock::time_point{} + 1690884000s;  // 2023-08-01 10:00:00 UTC
    auto m = alert_message(alert("192.0.2.9"), cfg, "gw1.example", now, "id.1@gw1.example");
    EXPECT_EQ(m.sender, "mppd@gw.example");
    EXPECT_EQ(m.recipients, std::vector<std::string>{"postmaster@example.org"});
    auto head = m.text.substr(0, m.text.find("\n\n") + 1);
    EXPECT_EQ(head,
              "From: mppd@gw.example\n"
              "To: postmaster@example.org\n"
              "Subject: mppd: threshold burst (group default) crossed by 192.0.2.9\n"
              "Date: Tue, 01 Aug 2023 10:00:00 +0000\n"
              "Message-ID: <id.1@gw1.example>\n"
              "Auto-Submitted: auto-generated\n"
              "MIME-Version: 1.0\n"
              "Content-Type: text/plain; charset=us-ascii\n"
              "Content-Transfer-Encoding: 7bit\n");
    for (const char* line : {"  group:     default\n", "  rule:      burst\n",
                             "  key:       192.0.2.9\n",
                             "  action:    defer (its mail is deferred with 4xx)\n",
                             "  counted:   60 messages, 2 spams in the last 30s",
                             "  block-for: 1h (", "  time:      2023-08-01T10:00:00Z\n",
                             "  host:      gw1.example\n", "held back for 10m"})
        EXPECT_NE(m.text.find(line), std::string::npos) << line << "\n" << m.text;
}

TEST(Alerts, KeyFromAClientCannotBreakAHeader) {
    config::AlertsCfg cfg;
    cfg.to = {"a@example.org"};
    auto m = alert_message(alert("x@y\r\nBcc: victim@example.com\xff" + std::string(300, 'k')),
                           cfg, "gw", std::chrono::system_clock::now(), "i@gw");
    auto subject = m.text.substr(m.text.find("Subject:"));
    subject = subject.substr(0, subject.find('\n'));
    EXPECT_EQ(subject.find('\r'), std::string::npos);
    EXPECT_NE(subject.find("x@y??Bcc: victim@example.com?kkk"), std::string::npos) << subject;
    EXPECT_EQ(subject.substr(subject.size() - 3), "...");
    EXPECT_LT(subject.size(), 300u);
    EXPECT_EQ(m.text.find("\nBcc:"), std::string::npos);
}

TEST(Alerts, LongRecipientListsAreFolded) {
    config::AlertsCfg cfg;
    for (int i = 0; i < 6; ++i)
        cfg.to.push_back("recipient-number-" + std::to_string(i) + "@example.org");
    auto m = alert_message(alert("k"), cfg, "gw", std::chrono::system_clock::now(), "i@gw");
    auto to = m.text.substr(m.text.find("To:"));
    to = to.substr(0, to.find("\nSubject:"));
    std::istringstream lines(to);
    int n = 0;
    for (std::string l; std::getline(lines, l); ++n) {
        EXPECT_LE(l.size(), 78u) << l;
        if (n > 0) {
            EXPECT_EQ(l[0], ' ') << l;
        }
    }
    EXPECT_GT(n, 1);
}

TEST(Alerts, RecipientsAreTheRulesElseAlertsTo) {
    config::AlertsCfg cfg;
    cfg.to = {"postmaster@example.org"};
    EXPECT_EQ(alert_recipients(alert("k", "r", {"abuse@example.net", "noc@example.net"}), cfg),
              (std::vector<std::string>{"abuse@example.net", "noc@example.net"}));
    EXPECT_EQ(alert_recipients(alert("k"), cfg),
              std::vector<std::string>{"postmaster@example.org"});

    TempDir d("mpp-alerts");
    Fixture f(config_for(recorder(d, "sendmail")));
    f.sender.post(alert("192.0.2.1", "r1", {"abuse@example.net"}));
    f.sender.post(alert("192.0.2.1", "r2"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    auto r = runs(d);
    ASSERT_EQ(r.size(), 2u);
    std::set<std::string> argvs{r[0].first, r[1].first};
    EXPECT_EQ(argvs, (std::set<std::string>{
                         "-i\n-f\nmppd@gw.example\n--\nabuse@example.net\n",
                         "-i\n-f\nmppd@gw.example\n--\npostmaster@example.org\n"}));
}

TEST(Alerts, NoRecipientsAtAllIsAFailure) {
    TempDir d("mpp-alerts");
    Fixture f(config_for(recorder(d, "sendmail"), "to=\"\""));
    auto failed = metric("alerts-failed");
    f.sender.post(alert("192.0.2.1"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(metric("alerts-failed"), failed + 1);
    EXPECT_TRUE(runs(d).empty());
}

TEST(Alerts, RateLimitedPerGroupRuleAndKey) {
    TempDir d("mpp-alerts");
    Fixture f(config_for(recorder(d, "sendmail"), "min-interval=\"10m\""));
    auto limited = metric("alerts-rate-limited");
    auto sent = metric("alerts-sent");
    f.sender.post(alert("192.0.2.1"));
    f.sender.post(alert("192.0.2.1"));         // same key: held back
    f.sender.post(alert("192.0.2.2"));         // another key
    f.sender.post(alert("192.0.2.1", "other"));  // another rule
    auto in_group = alert("192.0.2.1");
    in_group.group = "outbound";                 // another group
    f.sender.post(in_group);
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 4u);
    EXPECT_EQ(metric("alerts-rate-limited"), limited + 1);

    f.clock.advance(9min + 59s);
    f.sender.post(alert("192.0.2.1"));  // still within min-interval
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 4u);
    f.clock.advance(1s);
    f.sender.post(alert("192.0.2.1"));  // 10 minutes after the first: goes out
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 5u);
    EXPECT_EQ(metric("alerts-rate-limited"), limited + 2);
    EXPECT_EQ(metric("alerts-sent"), sent + 5);
}

TEST(Alerts, MinIntervalZeroSendsEveryAlert) {
    TempDir d("mpp-alerts");
    Fixture f(config_for(recorder(d, "sendmail"), "min-interval=\"0s\""));
    for (int i = 0; i < 3; ++i) f.sender.post(alert("192.0.2.1"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 3u);
    EXPECT_EQ(f.sender.rate_entries(), 0u);
}

TEST(Alerts, RateTableIsBounded) {
    TempDir d("mpp-alerts");
    AlertSender::Options o;
    o.max_keys = 2;
    Fixture f(config_for(recorder(d, "sendmail")), o);
    auto evicted = metric("alerts-rate-evictions");
    for (const char* k : {"192.0.2.1", "192.0.2.2", "192.0.2.3"}) f.sender.post(alert(k));
    EXPECT_EQ(f.sender.rate_entries(), 2u);
    EXPECT_EQ(metric("alerts-rate-evictions"), evicted + 1);
    f.sender.post(alert("192.0.2.1"));  // its entry was the oldest, evicted: sent again
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 4u);
}

TEST(Alerts, QueueIsBoundedWhileTheSenderIsBusy) {
    TempDir d("mpp-alerts");
    // The program waits for DIR/gate, so the first alert holds the thread.
    std::string gate = d / "gate";
    auto program = recorder(d, "sendmail",
                            "touch '" + d.path + "/started'\n"
                            "while [ ! -e '" + gate + "' ]; do sleep 0.02; done\n");
    AlertSender::Options o;
    o.max_queue = 3;
    Fixture f(config_for(program), o);
    auto dropped = metric("alerts-dropped");
    f.sender.post(alert("198.51.100.0"));
    for (int i = 0; i < 500 && !fs::exists(d / "started"); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(fs::exists(d / "started"));
    auto start = std::chrono::steady_clock::now();
    for (int i = 1; i <= 6; ++i) f.sender.post(alert("198.51.100." + std::to_string(i)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "post() must not block";
    EXPECT_EQ(metric("alerts-dropped"), dropped + 3);
    std::ofstream(gate).put('x');
    ASSERT_TRUE(f.sender.wait_idle(20s));
    EXPECT_EQ(runs(d).size(), 4u);  // the one in flight and the three queued
    // A dropped alert left no rate entry behind: it can go out at the next crossing.
    f.sender.post(alert("198.51.100.6"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(runs(d).size(), 5u);
}

TEST(Alerts, ReloadSwitchesTheProgramForTheNextAlert) {
    TempDir a, b;
    Fixture f(config_for(recorder(a, "sendmail")));
    f.sender.post(alert("192.0.2.1"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    f.config = config_for(recorder(b, "sendmail"), "from=\"other@gw.example\"");
    f.sender.post(alert("192.0.2.2"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    ASSERT_EQ(runs(a).size(), 1u);
    ASSERT_EQ(runs(b).size(), 1u);
    EXPECT_NE(runs(b)[0].first.find("-f\nother@gw.example\n"), std::string::npos);
}

TEST(Alerts, SentAndFailedAreLoggedAndCounted) {
    TempDir d("mpp-alerts");
    log::Options lo;
    lo.file = d / "mppd.log";
    log::configure(lo);
    std::string failing = d / "failing";
    {
        std::ofstream out(failing);
        out << "#!/bin/sh\ncat >/dev/null\necho 'sendmail: queue file write error' >&2\nexit 75\n";
    }
    ::chmod(failing.c_str(), 0755);
    Fixture f(config_for(recorder(d, "sendmail")));
    auto failed = metric("alerts-failed");
    f.sender.post(alert("192.0.2.1", "burst", {"abuse@example.net"}));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    f.config = config_for(failing);
    f.sender.post(alert("192.0.2.2"));
    ASSERT_TRUE(f.sender.wait_idle(10s));
    EXPECT_EQ(metric("alerts-failed"), failed + 1);
    log::Options to_stderr;
    to_stderr.to_stderr = true;
    log::configure(to_stderr);
    std::string text = read(d / "mppd.log");
    EXPECT_NE(text.find("alert: sent to=<abuse@example.net> rule=burst key=192.0.2.1 "
                        "group=default\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("warning: alert: failed to=<postmaster@example.org> rule=burst "
                        "key=192.0.2.2 group=default: sendmail " + failing +
                        ": exit status 75: sendmail: queue file write error\n"),
              std::string::npos)
        << text;
}

TEST(Alerts, CloseWithAHungProgramIsBounded) {
    TempDir d("mpp-alerts");
    std::string program = d / "sendmail";
    {
        std::ofstream out(program);
        out << "#!/bin/sh\nexec sleep 30\n";
    }
    ::chmod(program.c_str(), 0755);
    AlertSender::Options o;
    o.close_wait = 200ms;
    Fixture f(config_for(program), o);
    auto dropped = metric("alerts-dropped");
    f.sender.post(alert("192.0.2.1"));
    f.sender.post(alert("192.0.2.2"));
    std::this_thread::sleep_for(100ms);
    auto start = std::chrono::steady_clock::now();
    f.sender.close();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_EQ(metric("alerts-dropped"), dropped + 1);  // the queued one; the first was killed
    f.sender.post(alert("192.0.2.3"));  // after close: ignored
    EXPECT_TRUE(f.sender.wait_idle(1s));
    f.sender.close();  // idempotent
}

TEST(Alerts, RelayWithoutAHostIsAConfigError) {
    auto r = config::load_string("<mppd>\n<alerts relay=\"*:25\"/>\n</mppd>\n", "t.xml");
    EXPECT_FALSE(r.ok());
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_EQ(r.diagnostics[0].str(), "t.xml:2: <alerts>: relay needs a host (HOST:PORT)");
    for (const char* ok : {"127.0.0.1:25", "[::1]:2525", "unix:/run/relay.sock"}) {
        auto c = config::load_string(
            std::string("<mppd><alerts relay=\"") + ok + "\"/></mppd>", "t.xml");
        EXPECT_TRUE(c.ok()) << ok;
    }
}

}  // namespace
}  // namespace mpp::policy
