// t/policy/threshold_test.cc: policy/threshold: window edges (period-1s, period, period+1s),
// block-for expiry, one message to 5 recipients counting once, spams from the content stage,
// dry runs that change nothing, bounded tables, keys, and a period change restarting windows.
#include "policy/threshold.h"

#include <gtest/gtest.h>

#include "lib/metrics.h"
#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::tx;
using std::chrono::minutes;
using std::chrono::seconds;
using config::ThresholdAction;

namespace {

config::ThresholdCfg rule(long messages, long spams, seconds period, seconds block_for,
                          ThresholdAction action = ThresholdAction::block) {
    config::ThresholdCfg r;
    r.name = "r";
    r.messages = messages;
    r.spams = spams;
    r.period = period;
    r.block_for = block_for;
    r.action = action;
    return r;
}

struct EdgeCase {
    seconds period;
    seconds later;
    bool over;
};

TEST(Threshold, WindowEdges) {
    const EdgeCase cases[] = {
        {seconds(30), seconds(29), true},   {seconds(30), seconds(30), false},
        {seconds(30), seconds(31), false},  {seconds(32), seconds(31), true},
        {seconds(32), seconds(32), false},  {seconds(120), seconds(119), true},
        {seconds(120), seconds(120), false}, {seconds(120), seconds(121), false},
        // period 1h: buckets of 113 s; a count lasts between period - 113 s and period + 113 s.
        {seconds(3600), seconds(3600 - 113), true}, {seconds(3600), seconds(3600 + 113), false},
    };
    for (const auto& c : cases) {
        FakeClock clock;
        Thresholds t(clock);
        auto r = rule(3, 0, c.period, seconds(0));
        for (const char* id : {"m1", "m2", "m3"}) {
            auto d = t.check("g", r, "192.0.2.1", id);
            EXPECT_FALSE(d.over);
            EXPECT_TRUE(d.counted);
        }
        EXPECT_TRUE(t.check("g", r, "192.0.2.1", "m4").over);  // the 4th crosses at once
        clock.advance(c.later);
        EXPECT_EQ(t.check("g", r, "192.0.2.1", "m5").over, c.over)
            << "period " << c.period.count() << "s, " << c.later.count() << "s later";
    }
}

TEST(Threshold, BlockForExpiry) {
    FakeClock clock;
    Thresholds t(clock);
    auto r = rule(2, 0, seconds(60), minutes(10));
    EXPECT_FALSE(t.check("g", r, "k", "m1").over);
    EXPECT_FALSE(t.check("g", r, "k", "m2").over);
    auto d = t.check("g", r, "k", "m3");
    EXPECT_TRUE(d.over);
    EXPECT_TRUE(d.crossing);
    EXPECT_FALSE(d.counted);
    EXPECT_EQ(d.left, minutes(10));
    clock.advance(minutes(10) - seconds(1));
    d = t.check("g", r, "k", "m4");
    EXPECT_TRUE(d.over);
    EXPECT_FALSE(d.crossing);  // one crossing per block: one alert
    EXPECT_EQ(d.left, seconds(1));
    clock.advance(seconds(1));
    d = t.check("g", r, "k", "m5");
    EXPECT_FALSE(d.over);
    EXPECT_EQ(d.messages, 0);  // nothing counted while blocked, the old window is gone
    EXPECT_FALSE(t.check("g", r, "other-key", "m1").over);
    EXPECT_FALSE(t.check("other-group", r, "k", "m1").over);
}

TEST(Threshold, FiveRecipientMessageCountsOnce) {
    FakeClock clock;
    Thresholds t(clock);
    auto r = rule(2, 0, seconds(60), seconds(0));
    for (int i = 0; i < 5; ++i) {
        auto d = t.check("g", r, "k", "msgA");
        EXPECT_FALSE(d.over);
        EXPECT_EQ(d.counted, i == 0);
    }
    EXPECT_FALSE(t.check("g", r, "k", "msgB").over);
    ASSERT_EQ(t.list().size(), 1u);
    EXPECT_EQ(t.list()[0].messages, 2);
    auto first = t.check("g", r, "k", "msgC");
    EXPECT_TRUE(first.over);
    EXPECT_TRUE(first.crossing);
    auto second = t.check("g", r, "k", "msgC");  // the same message's next recipient
    EXPECT_TRUE(second.over);
    EXPECT_FALSE(second.crossing);
    // Without a message id every call counts.
    Thresholds u(clock);
    EXPECT_FALSE(u.check("g", r, "k", "").over);
    EXPECT_FALSE(u.check("g", r, "k", "").over);
    EXPECT_TRUE(u.check("g", r, "k", "").over);
}

TEST(Threshold, SpamsFromTheContentStage) {
    FakeClock clock;
    Thresholds t(clock);
    auto spams_only = rule(0, 2, seconds(60), minutes(5));
    t.record_spam("g", spams_only, "k", "s1");
    t.record_spam("g", spams_only, "k", "s1");  // the same message twice
    EXPECT_FALSE(t.check("g", spams_only, "k", "m1").over);
    t.record_spam("g", spams_only, "k", "s2");
    EXPECT_TRUE(t.check("g", spams_only, "k", "m2").over);

    // Both counts: "10 spams out of 10 messages" in small.
    auto both = rule(2, 1, seconds(60), seconds(0));
    EXPECT_FALSE(t.check("g", both, "j", "m1").over);
    EXPECT_FALSE(t.check("g", both, "j", "m2").over);
    EXPECT_FALSE(t.check("g", both, "j", "m3").over);  // 2 messages, no spam yet
    t.record_spam("g", both, "j", "m3");
    EXPECT_TRUE(t.check("g", both, "j", "m4").over);
    clock.advance(seconds(60));
    EXPECT_FALSE(t.check("g", both, "j", "m5").over);

    // A rule that does not count spams ignores them.
    auto messages_only = rule(5, 0, seconds(60), seconds(0));
    t.record_spam("g", messages_only, "x", "m1");
    EXPECT_EQ(t.check("g", messages_only, "x", "m1").spams, 0);
}

TEST(Threshold, WarnAndQuarantineStillCount) {
    FakeClock clock;
    Thresholds t(clock);
    auto r = rule(1, 0, seconds(60), seconds(0), ThresholdAction::warn);
    EXPECT_TRUE(t.check("g", r, "k", "m1").counted);
    auto d = t.check("g", r, "k", "m2");
    EXPECT_TRUE(d.over);
    EXPECT_TRUE(d.counted);  // the message passes, so it counts
    EXPECT_EQ(t.check("g", r, "k", "m3").messages, 2);
}

TEST(Threshold, DryRunChangesNothing) {
    FakeClock clock;
    Thresholds t(clock);
    auto r = rule(1, 0, seconds(60), minutes(1));
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.check("g", r, "k", "m1", true).over);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_FALSE(t.check("g", r, "k", "m1").over);
    auto d = t.check("g", r, "k", "m2", true);
    EXPECT_TRUE(d.over);
    EXPECT_EQ(d.messages, 1);
    EXPECT_FALSE(t.check("g", r, "k", "m2", true).counted);
    EXPECT_EQ(t.list().at(0).messages, 1);
    EXPECT_EQ(t.list().at(0).blocked_left, seconds(0));  // the dry run did not block
}

TEST(Threshold, BoundedEvictsLeastRecentlyUsed) {
    FakeClock clock;
    Thresholds t(clock, 2);
    auto r = rule(1, 0, seconds(60), seconds(0));
    auto before = metrics::get("threshold-evictions").get();
    t.check("g", r, "a", "m1");
    t.check("g", r, "b", "m1");
    t.check("g", r, "a", "m2");  // a is used again: b is now the oldest
    t.check("g", r, "c", "m1");
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(metrics::get("threshold-evictions").get(), before + 1);
    EXPECT_EQ(t.check("g", r, "b", "m9", true).messages, 0);  // evicted
    EXPECT_EQ(t.check("g", r, "a", "m9", true).messages, 1);
}

TEST(Threshold, PeriodChangeRestartsTheWindow) {
    FakeClock clock;
    Thresholds t(clock);
    auto r = rule(1, 0, seconds(60), seconds(0));
    t.check("g", r, "k", "m1");
    EXPECT_TRUE(t.check("g", r, "k", "m2", true).over);
    r.period = seconds(90);
    EXPECT_FALSE(t.check("g", r, "k", "m2", true).over);
    EXPECT_FALSE(t.check("g", r, "k", "m2").over);
}

TEST(Threshold, Keys) {
    config::ThresholdCfg r;
    r.key = config::ThresholdKey::client;
    EXPECT_EQ(threshold_key(r, tx("::ffff:192.0.2.1", "a@b", "c@d")), "192.0.2.1");
    EXPECT_EQ(threshold_key(r, tx("2001:db8::1", "a@b", "c@d")), "2001:db8::1");
    EXPECT_EQ(threshold_key(r, tx("unknown", "a@b", "c@d")), std::nullopt);
    r.key = config::ThresholdKey::sender;
    EXPECT_EQ(threshold_key(r, tx("192.0.2.1", "<Alice@Example.COM>", "c@d")),
              "alice@example.com");
    EXPECT_EQ(threshold_key(r, tx("192.0.2.1", "", "c@d")), "<>");
    r.key = config::ThresholdKey::sasl;
    EXPECT_EQ(threshold_key(r, tx("192.0.2.1", "a@b", "c@d", "bob")), "bob");
    EXPECT_EQ(threshold_key(r, tx("192.0.2.1", "a@b", "c@d")), std::nullopt);
    r.key = config::ThresholdKey::subject;
    EXPECT_EQ(threshold_key(r, tx("192.0.2.1", "a@b", "c@d")), std::nullopt) << "no subject";
    Transaction t = tx("192.0.2.1", "a@b", "c@d");
    t.subject = "  Undelivered   Mail Returned to SENDER ";
    EXPECT_EQ(threshold_key(r, t), "undelivered mail returned to sender");
    t.subject = " \t ";
    EXPECT_EQ(threshold_key(r, t), std::nullopt) << "blank subjects are not counted together";
}

}  // namespace

// recipients= and size= count at END-OF-MESSAGE what the message brings; at RCPT they only
// look whether the key is blocked.
TEST(Threshold, AmountsByStage) {
    auto r = rule(0, 0, seconds(60), seconds(0));
    Transaction t = tx("192.0.2.1", "a@x.example", "b@y.example");
    t.recipient_count = 7;
    t.size = 2049;
    r.messages = 3;
    EXPECT_EQ(threshold_amount(r, t), 1u);  // tx() is at RCPT
    t.stage = Stage::end_of_message;
    EXPECT_EQ(threshold_amount(r, t), std::nullopt);  // messages were counted at RCPT
    r.messages = 0;
    r.recipients = 10;
    EXPECT_EQ(threshold_unit(r), ThresholdUnit::recipients);
    EXPECT_EQ(threshold_amount(r, t), 7u);
    r.recipients = 0;
    r.size = 100 * 1024;
    EXPECT_EQ(threshold_unit(r), ThresholdUnit::kilobytes);
    EXPECT_EQ(unit_limit(r), 100u);
    EXPECT_EQ(threshold_amount(r, t), 3u);  // 2049 bytes: 3 KiB, rounded up
    t.size = 0;
    EXPECT_EQ(threshold_amount(r, t), 0u);  // unknown size: look only
    t.stage = Stage::rcpt;
    EXPECT_EQ(threshold_amount(r, t), 0u);
    t.stage = Stage::data;
    EXPECT_EQ(threshold_amount(r, t), std::nullopt);
}

TEST(Threshold, RecipientsCrossWhenTheMessageWouldTakeTheWindowAbove) {
    FakeClock clock;
    Thresholds table(clock);
    auto r = rule(0, 0, seconds(60), minutes(10));
    r.recipients = 10;
    auto m1 = table.check("g", r, "k", "m1", false, 6);
    EXPECT_FALSE(m1.over);
    EXPECT_TRUE(m1.counted);
    EXPECT_FALSE(table.check("g", r, "k", "m2", false, 4).over);  // exactly 10: not above
    EXPECT_FALSE(table.check("g", r, "k", "m2", false, 4).over);  // the same message again
    auto m3 = table.check("g", r, "k", "m3", false, 1);
    EXPECT_TRUE(m3.over);
    EXPECT_TRUE(m3.crossing);
    EXPECT_EQ(m3.messages, 10);
    // Blocked: at RCPT of the next message (amount 0) the key is refused, nothing counted.
    clock.advance(seconds(61));
    auto rcpt = table.check("g", r, "k", "m4", false, 0);
    EXPECT_TRUE(rcpt.over);
    EXPECT_FALSE(rcpt.crossing);
    EXPECT_EQ(rcpt.left, minutes(10) - seconds(61));
    clock.advance(minutes(10));
    EXPECT_FALSE(table.check("g", r, "k", "m5", false, 0).over);  // block over, look only
    EXPECT_FALSE(table.check("g", r, "k", "m5", false, 10).over);  // a fresh window
}

TEST(Threshold, OneHugeMessageAloneCrossesASizeRule) {
    FakeClock clock;
    Thresholds table(clock);
    auto r = rule(0, 0, seconds(3600), minutes(5), ThresholdAction::defer);
    r.size = 1024 * 1024;  // 1 MiB = 1024 KiB
    EXPECT_FALSE(table.check("g", r, "k", "a", false, 1024).over);
    EXPECT_TRUE(table.check("g", r, "other", "b", false, 1025).over);
}
