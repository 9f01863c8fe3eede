// t/policy/engine_test.cc: policy/engine: the order of the checks, spam traps blocking a client
// per group or globally, thresholds through the engine (a 5-recipient message counts once, each
// action), reply templates, per-recipient independence, the greylist and alert seams, explain
// changing nothing, and state surviving a new config snapshot.
#include "policy/engine.h"

#include <gtest/gtest.h>

#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::load;
using mpp::policy::test::tx;
using std::chrono::hours;
using std::chrono::seconds;

namespace {

const char* kConfig = R"X(
  <networks internal="10.0.0.0/8"/>
  <list name="relays" type="cidr">192.0.2.0/24</list>
  <list name="blocked-senders" type="address">*@spam.example</list>
  <deny sender="blocked-senders"/>
  <allow client="203.0.113.0/24"/>
  <group name="traps">
    <match recipient-domain="example.com"/>
    <spamtrap pattern="^[0-9]{5,}@example\.com$" scope="group" block-for="1h" exempt="relays"/>
    <spamtrap pattern="^global-trap@" scope="global" block-for="1d"/>
    <deny sender="*@bad.example"/>
    <allow sender="boss@partner.example"/>
    <reject on="spamtrap" code="554" dsn="5.7.0">Go away %CLIENT_IP% (%GROUP%, %QUEUEID%): %REASON%</reject>
  </group>
  <group name="limited">
    <match recipient-domain="limited.example"/>
    <threshold name="rate" messages="2" period="1m" block-for="10m" action="defer"/>
    <defer on="threshold" code="450" dsn="4.7.2">Slow down %SENDER% to %RECIPIENT%: %REASON%</defer>
  </group>
  <group name="outbound">
    <match direction="outbound"/>
    <threshold name="out" messages="1" period="1m" block-for="0s" action="block" key="sasl"/>
    <threshold name="watch" messages="1" period="1m" block-for="1h" action="warn" alert-to="abuse@isp.example"/>
  </group>
  <group name="q">
    <match recipient-domain="q.example"/>
    <threshold name="spammy" spams="1" period="1h" block-for="0s" action="quarantine"/>
    <greylist delay="5m" exempt="relays"/>
  </group>
  <group name="default">
    <reject>Rejected by %GROUP%: %REASON%</reject>
  </group>
)X";

struct EngineTest : ::testing::Test {
    FakeClock clock;
    EngineState state{clock};
    std::shared_ptr<const config::Config> cfg = load(kConfig);
    std::vector<ThresholdAlert> alerts;
    int greylist_calls = 0;
    bool last_dry_run = false;
    Engine engine{cfg, clock, state, hooks()};

    EngineHooks hooks() {
        EngineHooks h;
        h.alert = [this](const ThresholdAlert& a) { alerts.push_back(a); };
        h.greylist = [this](const Transaction&, const config::GreylistCfg& g, bool dry_run) {
            ++greylist_calls;
            last_dry_run = dry_run;
            Verdict v;
            v.action = Action::greylist;
            v.code = 450;
            v.dsn = "4.7.1";
            v.text = "Greylisted, try again in " + std::to_string(g.delay.count()) + " seconds";
            v.reason = "first seen";
            return v;
        };
        return h;
    }
    Verdict eval(const char* client, const char* sender, const char* rcpt, const char* id = "",
                 const char* sasl = "") {
        return engine.evaluate(tx(client, sender, rcpt, sasl, id));
    }
};

struct OrderCase {
    const char* client;
    const char* sender;
    const char* rcpt;
    Action action;
    const char* check;
    int code;
    const char* text;
};

TEST_F(EngineTest, OrderOfChecksAndReplies) {
    const OrderCase cases[] = {
        // global deny beats global allow
        {"203.0.113.5", "x@SPAM.example", "u@other.example", Action::reject, "deny", 550,
         "Rejected by default: denied by global rule at line 6"},
        {"203.0.113.5", "x@bad.example", "u@example.com", Action::accept, "allow", 0, ""},
        {"198.51.100.1", "x@bad.example", "u@example.com", Action::reject, "deny", 550,
         "Message rejected: denied by group rule at line 12"},
        // group allow skips the spam trap
        {"198.51.100.1", "boss@partner.example", "12345@example.com", Action::accept, "allow", 0,
         ""},
        {"198.51.100.1", "a@b.example", "12345@example.com", Action::reject, "spamtrap", 554,
         "Go away 198.51.100.1 (traps, 4XyZ1): spam trap"},
        {"198.51.100.2", "a@b.example", "u@other.example", Action::none, "", 0, ""},
    };
    for (const auto& c : cases) {
        Verdict v = eval(c.client, c.sender, c.rcpt);
        EXPECT_EQ(v.action, c.action) << c.sender << " " << c.rcpt;
        EXPECT_EQ(v.check, c.check) << c.sender << " " << c.rcpt;
        EXPECT_EQ(v.code, c.code) << c.sender << " " << c.rcpt;
        EXPECT_EQ(v.text, c.text) << c.sender << " " << c.rcpt;
    }
}

TEST_F(EngineTest, SpamTrapBlocksTheClientInItsGroup) {
    Verdict v = eval("198.51.100.1", "a@b.example", "12345@example.com");
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.dsn, "5.7.0");
    // Later recipients in the same group: refused; the IPv4-mapped form is the same client.
    v = eval("::ffff:198.51.100.1", "a@b.example", "user@example.com");
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "blocklist");
    EXPECT_EQ(v.code, 554);  // the spamtrap reply of the group
    // Another group (scope="group"): not refused; another client: not refused.
    EXPECT_EQ(eval("198.51.100.1", "a@b.example", "u@other.example").action, Action::none);
    EXPECT_EQ(eval("198.51.100.2", "a@b.example", "user@example.com").action, Action::none);
    clock.advance(hours(1));
    EXPECT_EQ(eval("198.51.100.1", "a@b.example", "user@example.com").action, Action::none);
}

TEST_F(EngineTest, GlobalTrapBlocksInEveryGroupAndExemptNeverSprings) {
    EXPECT_EQ(eval("198.51.100.7", "", "global-trap@example.com").action, Action::reject);
    Verdict v = eval("198.51.100.7", "a@b.example", "u@other.example");
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "blocklist");
    EXPECT_EQ(v.text, "Rejected by default: client blocked: spam trap global-trap@example.com");
    // The relay is exempt from the numeric trap: passes, and is not blocked afterwards.
    EXPECT_EQ(eval("192.0.2.1", "a@b.example", "12345@example.com").action, Action::none);
    EXPECT_EQ(eval("192.0.2.1", "a@b.example", "user@example.com").action, Action::none);
    EXPECT_EQ(state.blocks.list().size(), 1u);
}

TEST_F(EngineTest, FiveRecipientMessageCountsOnceAndDefers) {
    for (const char* id : {"m1", "m2"})
        for (int i = 0; i < 5; ++i)
            EXPECT_EQ(eval("198.51.100.1", "s@x.example",
                           ("u" + std::to_string(i) + "@limited.example").c_str(), id)
                          .action,
                      Action::none);
    Verdict v = eval("198.51.100.1", "s@x.example", "u@limited.example", "m3");
    EXPECT_EQ(v.action, Action::defer);
    EXPECT_EQ(v.check, "threshold:rate");
    EXPECT_EQ(v.code, 450);
    EXPECT_EQ(v.dsn, "4.7.2");
    EXPECT_EQ(v.text,
              "Slow down s@x.example to u@limited.example: threshold rate exceeded by "
              "198.51.100.1");
    // Per recipient: the same client to another group is not limited.
    EXPECT_EQ(eval("198.51.100.1", "s@x.example", "u@other.example", "m3").action, Action::none);
    clock.advance(std::chrono::minutes(10));
    EXPECT_EQ(eval("198.51.100.1", "s@x.example", "u@limited.example", "m4").action,
              Action::none);
}

TEST_F(EngineTest, OutboundThresholdsBlockAndWarn) {
    // Inbound mail does not count for direction="outbound" groups: it is not even in them.
    EXPECT_EQ(eval("10.0.0.1", "a@corp.example", "x@far.example", "o1", "alice").action,
              Action::none);
    EXPECT_TRUE(alerts.empty());
    Verdict v = eval("10.0.0.1", "a@corp.example", "x@far.example", "o2", "alice");
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "threshold:out");
    ASSERT_EQ(alerts.size(), 1u);  // every crossing is reported once
    EXPECT_EQ(alerts[0].rule, "out");
    EXPECT_EQ(alerts[0].key, "alice");
    EXPECT_EQ(alerts[0].action, config::ThresholdAction::block);
    // warn: logged and alerted once, never refused; another SASL user is a separate key.
    EXPECT_EQ(eval("10.0.0.1", "b@corp.example", "x@far.example", "o3", "bob").action,
              Action::none);
    ASSERT_EQ(alerts.size(), 2u);
    EXPECT_EQ(alerts[1].rule, "watch");
    EXPECT_EQ(alerts[1].key, "10.0.0.1");
    EXPECT_EQ(alerts[1].to, std::vector<std::string>{"abuse@isp.example"});
    EXPECT_EQ(eval("10.0.0.1", "c@corp.example", "x@far.example", "o4", "carol").action,
              Action::none);
    EXPECT_EQ(alerts.size(), 2u);  // still inside its block: no second alert
}

TEST_F(EngineTest, QuarantineFlagGreylistSeamAndRecordSpam) {
    auto t = tx("198.51.100.1", "s@x.example", "u@q.example", "", "m1");
    Verdict v = engine.evaluate(t);
    EXPECT_EQ(v.action, Action::greylist);
    EXPECT_EQ(v.code, 450);
    EXPECT_EQ(v.text, "Greylisted, try again in 300 seconds");
    EXPECT_FALSE(v.quarantine);
    EXPECT_EQ(greylist_calls, 1);
    EXPECT_FALSE(last_dry_run);
    engine.record_spam(t);
    v = engine.evaluate(tx("198.51.100.1", "s@x.example", "u@q.example", "", "m2"));
    EXPECT_TRUE(v.quarantine);
    EXPECT_EQ(v.action, Action::greylist);
    // Exempt from greylisting: the hook is not asked.
    v = engine.evaluate(tx("192.0.2.1", "s@x.example", "u@q.example", "", "m3"));
    EXPECT_EQ(v.action, Action::none);
    EXPECT_EQ(greylist_calls, 2);
}

TEST_F(EngineTest, ExplainChangesNothing) {
    auto trap = tx("198.51.100.1", "a@b.example", "12345@example.com");
    Explanation e = engine.explain(trap);
    EXPECT_EQ(e.group, "traps");
    EXPECT_EQ(e.direction, config::Direction::inbound);
    EXPECT_EQ(e.verdict.action, Action::reject);
    bool saw_trap = false;
    for (const auto& s : e.steps) saw_trap |= s.check == "spamtrap" && s.result == "hit";
    EXPECT_TRUE(saw_trap);
    EXPECT_EQ(state.blocks.size(), 0u);
    EXPECT_EQ(eval("198.51.100.1", "a@b.example", "user@example.com").action, Action::none);

    for (int i = 0; i < 5; ++i)
        engine.explain(tx("198.51.100.1", "s@x.example", "u@limited.example", "", "x"));
    EXPECT_EQ(state.thresholds.size(), 0u);
    e = engine.explain(tx("198.51.100.1", "s@x.example", "u@q.example", "", "x"));
    EXPECT_TRUE(last_dry_run);
    EXPECT_EQ(e.verdict.action, Action::greylist);
}

TEST_F(EngineTest, StateSurvivesANewSnapshot) {
    eval("198.51.100.1", "a@b.example", "12345@example.com");
    eval("198.51.100.1", "s@x.example", "u@limited.example", "m1");
    eval("198.51.100.1", "s@x.example", "u@limited.example", "m2");
    engine.set_config(load(std::string(kConfig) + "<!-- reloaded -->"));
    EXPECT_NE(engine.config(), cfg);
    EXPECT_EQ(eval("198.51.100.1", "a@b.example", "user@example.com").check, "blocklist");
    EXPECT_EQ(eval("198.51.100.1", "s@x.example", "u@limited.example", "m3").action,
              Action::defer);
}

TEST(EngineShadow, ShadowRulesAreLoggedAndCountedNeverEnforced) {
    FakeClock clock;
    EngineState state(clock);
    Engine engine(load(R"X(
      <group name="default">
        <spamtrap pattern="^trap@" mode="shadow"/>
        <threshold name="try" messages="1" period="1m" block-for="1h" mode="shadow"/>
        <deny sender="*@bad.example"/>
      </group>)X"),
                  clock, state);
    Verdict v = engine.evaluate(tx("198.51.100.1", "a@b.example", "trap@x.example", "", "m1"));
    EXPECT_EQ(v.action, Action::reject);  // what it would have done...
    EXPECT_TRUE(v.shadow);                // ...not enforced: the front end answers DUNNO
    EXPECT_EQ(v.check, "spamtrap");
    EXPECT_EQ(state.blocks.size(), 0u);  // nobody blocked
    v = engine.evaluate(tx("198.51.100.1", "a@b.example", "u@x.example", "", "m2"));
    EXPECT_TRUE(v.shadow);
    EXPECT_EQ(v.check, "threshold:try");
    // An enforcing check still decides; the shadow hit is counted all the same.
    v = engine.evaluate(tx("198.51.100.1", "a@bad.example", "trap@x.example", "", "m3"));
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_FALSE(v.shadow);
    EXPECT_EQ(v.check, "deny");
    auto counts = engine.shadow_counts();
    EXPECT_EQ(counts["default/spamtrap"], 1);  // m3 was denied before the traps ran
    EXPECT_EQ(counts["default/threshold:try"], 1);
    v = engine.evaluate(tx("198.51.100.1", "a@b.example", "u@x.example", "", "m4"));
    EXPECT_TRUE(v.shadow);
    EXPECT_EQ(engine.shadow_counts()["default/threshold:try"], 2);
    // explain shows it and counts nothing.
    Explanation e = engine.explain(tx("198.51.100.1", "a@b.example", "trap@x.example", "", "m5"));
    EXPECT_TRUE(e.verdict.shadow);
    EXPECT_EQ(engine.shadow_counts()["default/spamtrap"], 1);
}

// recipients= and size= rules count at END-OF-MESSAGE (which runs nothing else: no greylist,
// no trap, no split) and refuse that message; the key is then refused at RCPT for block-for.
TEST(EngineEndOfMessage, RecipientAndSizeThresholds) {
    FakeClock clock;
    EngineState state(clock);
    int greylist_calls = 0;
    std::vector<ThresholdAlert> alerts;
    Engine engine(load(R"X(
      <group name="default">
        <greylist delay="5m"/>
        <spamtrap pattern="^trap@"/>
        <threshold name="rcpts" recipients="10" period="1h" block-for="30m" action="defer"/>
        <threshold name="volume" size="1M" period="1h" block-for="1h" action="block"
                   key="sender"/>
      </group>)X"),
                  clock, state, [&] {
                      EngineHooks h;  // a greylist that defers everything, and counts its calls
                      h.greylist = [&](const Transaction&, const config::GreylistCfg&, bool) {
                          ++greylist_calls;
                          Verdict g;
                          g.action = Action::greylist;
                          return g;
                      };
                      h.alert = [&](const ThresholdAlert& a) { alerts.push_back(a); };
                      return h;
                  }());
    auto eom = [](const char* client, const char* sender, unsigned rcpts, std::uint64_t size,
                  const char* id) {
        auto t = tx(client, sender, "", "", id);
        t.stage = Stage::end_of_message;
        t.recipient_count = rcpts;
        t.size = size;
        return t;
    };
    EXPECT_EQ(engine.evaluate(eom("192.0.2.1", "a@x.example", 6, 1000, "m1")).action, Action::none);
    EXPECT_EQ(state.blocks.size(), 0u);
    EXPECT_EQ(engine.evaluate(eom("192.0.2.1", "a@x.example", 4, 1000, "m2")).action, Action::none);
    Verdict v = engine.evaluate(eom("192.0.2.1", "a@x.example", 1, 1000, "m3"));
    EXPECT_EQ(v.action, Action::defer);
    EXPECT_EQ(v.check, "threshold:rcpts");
    EXPECT_EQ(v.code, 451);
    ASSERT_EQ(alerts.size(), 1u);  // the crossing, in the rule's unit
    EXPECT_EQ(alerts[0].unit, "recipients");
    EXPECT_EQ(alerts[0].messages, 10);
    // From now on the client is refused at RCPT (before greylisting), without counting.
    v = engine.evaluate(tx("192.0.2.1", "a@x.example", "u@y.example", "", "m4"));
    EXPECT_EQ(v.action, Action::defer);
    EXPECT_EQ(v.check, "threshold:rcpts");
    // Another client: greylisted at RCPT as usual; its messages' bytes add up per sender.
    v = engine.evaluate(tx("192.0.2.99", "b@x.example", "u@y.example", "", "m5"));
    EXPECT_EQ(v.action, Action::greylist);
    EXPECT_EQ(engine.evaluate(eom("192.0.2.99", "b@x.example", 1, 600 * 1024, "m5")).action,
              Action::none);
    v = engine.evaluate(eom("192.0.2.99", "b@x.example", 1, 500 * 1024, "m6"));
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "threshold:volume");
    // explain at END-OF-MESSAGE says what it skipped.
    Explanation e = engine.explain(eom("192.0.2.50", "c@x.example", 1, 10, "m7"));
    bool skipped_greylist = true;
    for (const auto& step : e.steps)
        if (step.check == "greylist" || step.check == "spamtrap") skipped_greylist = false;
    EXPECT_TRUE(skipped_greylist);
    EXPECT_EQ(greylist_calls, 1);  // m5 at RCPT only
    clock.advance(std::chrono::minutes(31));
    EXPECT_EQ(engine.evaluate(tx("192.0.2.1", "a@x.example", "u@y.example", "", "m8")).action,
              Action::greylist);  // the block is over
}

// <deny mode="shadow"> and <greylist mode="shadow">: logged and counted as "would have", the
// mail passes; an enforcing <deny> after a shadow one still refuses.
TEST(EngineShadow, DenyAndGreylistInShadowMode) {
    FakeClock clock;
    EngineState state(clock);
    int greylist_calls = 0;
    Engine engine(load(R"X(
      <deny sender="*@try.example" mode="shadow"/>
      <group name="default">
        <deny sender="*@try.example" client="203.0.113.0/24"/>
        <greylist delay="5m" mode="shadow"/>
      </group>)X"),
                  clock, state, [&] {
                      EngineHooks h;  // defers the first call of each recipient, as a greylist
                      h.greylist = [&](const Transaction& t, const config::GreylistCfg&, bool) {
                          ++greylist_calls;
                          Verdict g;
                          if (t.recipient == "new@y.example") g.action = Action::greylist;
                          return g;
                      };
                      return h;
                  }());
    Verdict v = engine.evaluate(tx("192.0.2.1", "a@try.example", "old@y.example", "", "m1"));
    EXPECT_TRUE(v.shadow);  // the shadow global deny: not enforced
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "deny");
    v = engine.evaluate(tx("203.0.113.9", "a@try.example", "old@y.example", "", "m2"));
    EXPECT_FALSE(v.shadow);  // the group's enforcing deny refuses after the shadow one
    EXPECT_EQ(v.action, Action::reject);
    v = engine.evaluate(tx("192.0.2.1", "b@ok.example", "new@y.example", "", "m3"));
    EXPECT_TRUE(v.shadow);  // would have greylisted
    EXPECT_EQ(v.action, Action::greylist);
    EXPECT_EQ(v.check, "greylist");
    EXPECT_EQ(greylist_calls, 2);  // m1 and m3 (m2 was refused before)
    auto counts = engine.shadow_counts();
    EXPECT_EQ(counts["default/deny"], 2);  // m1 and m2 both matched the shadow global deny
    EXPECT_EQ(counts["default/greylist"], 1);
}

TEST(EngineSplit, MixedPolicyTransactionsAreSplit) {
    FakeClock clock;
    EngineState state(clock);
    Engine engine(load(R"X(
      <group name="strict" split-recipients="yes">
        <match recipient-domain="strict.example"/>
        <spamtrap pattern="^trap@"/>
      </group>
      <group name="other"><match recipient-domain="other.example"/></group>
      <group name="default"/>)X"),
                  clock, state);
    auto rcpt = [&](const char* to, const char* id) {
        return engine.evaluate(tx("198.51.100.1", "a@b.example", to, "", id));
    };
    // First accepted recipient in "strict": other groups are split off, same group is fine.
    EXPECT_EQ(rcpt("u1@strict.example", "t1").action, Action::none);
    EXPECT_EQ(rcpt("u2@strict.example", "t1").action, Action::none);
    Verdict v = rcpt("u@other.example", "t1");
    EXPECT_EQ(v.action, Action::defer);
    EXPECT_EQ(v.code, 452);
    EXPECT_EQ(v.dsn, "4.5.3");
    EXPECT_EQ(v.text, "Try again in a separate transaction");
    EXPECT_EQ(v.check, "split");
    // First in "other" (no split), then "strict" (split="yes"): split as well.
    EXPECT_EQ(rcpt("u@other.example", "t2").action, Action::none);
    EXPECT_EQ(rcpt("u@strict.example", "t2").code, 452);
    // Neither group asks for it: "other" then "default" mix freely.
    EXPECT_EQ(rcpt("u@other.example", "t3").action, Action::none);
    EXPECT_EQ(rcpt("u@plain.example", "t3").action, Action::none);
    // A refused first recipient does not fix the transaction's group.
    EXPECT_EQ(rcpt("trap@strict.example", "t4").action, Action::reject);
    EXPECT_EQ(engine.evaluate(tx("198.51.100.9", "a@b.example", "u@other.example", "", "t4"))
                  .action,
              Action::none);
    // Without a transaction id (no instance, no queue id) nothing is split.
    auto anon = tx("198.51.100.2", "a@b.example", "u@strict.example");
    anon.queue_id.clear();
    EXPECT_EQ(engine.evaluate(anon).action, Action::none);
    anon.recipient = "u@other.example";
    EXPECT_EQ(engine.evaluate(anon).action, Action::none);
    // Forgotten after an hour.
    clock.advance(std::chrono::hours(1));
    EXPECT_EQ(engine.evaluate(tx("198.51.100.2", "a@b.example", "u@other.example", "", "t1"))
                  .action,
              Action::none);
}

TEST(EngineSplit, FirstGroupsIsBounded) {
    FakeClock clock;
    FirstGroups groups(clock, 2);
    groups.accept("a", "g1");
    groups.accept("a", "g2");  // the first stays
    EXPECT_EQ(groups.get("a"), "g1");
    groups.accept("b", "g1");
    groups.accept("c", "g1");
    EXPECT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups.get("a"), std::nullopt);  // the oldest went
    EXPECT_EQ(groups.get("c"), "g1");
    clock.advance(FirstGroups::kTtl);
    EXPECT_EQ(groups.get("c"), std::nullopt);
    groups.accept("c", "g3");  // stale: recorded again, and kept past its old slot
    groups.accept("d", "g1");
    EXPECT_EQ(groups.get("c"), "g3");
}

TEST_F(EngineTest, OtherStagesAndCleanReplies) {
    auto t = tx("198.51.100.1", "a@bad.example", "u@example.com");
    t.stage = Stage::mail;
    EXPECT_EQ(engine.evaluate(t).action, Action::none);
    t.stage = Stage::rcpt;
    t.queue_id = "Q\r\n250 OK";
    EXPECT_EQ(expand_reply("%QUEUEID% %CLIENT_NAME% %SCORE%", t, "g", "c", "r"),
              "Q??250 OK unknown");  // each line trimmed
    Verdict v;
    v.action = Action::reject;
    v.check = "spamtrap";
    v.reason = "spam trap";
    EXPECT_EQ(decision_line(tx("192.0.2.1", "a@b", "c@d"), "default", v),
              "client=unknown[192.0.2.1] from=<a@b> to=<c@d> group=default check=spamtrap "
              "action=reject reason=\"spam trap\"");
}

}  // namespace

namespace {
// A multi-line <reject> keeps its lines, trimmed of the XML's indentation, blank ones dropped.
TEST(EngineReply, MultiLineTemplateKeepsItsLines) {
    auto t = tx("192.0.2.1", "a@b.example", "c@d.example");
    EXPECT_EQ(expand_reply("\n      Refused by %GROUP%: %REASON%.\n\n      See %CHECK%  \n    ", t,
                           "default", "spamtrap", "spam trap"),
              "Refused by default: spam trap.\nSee spamtrap");
    EXPECT_EQ(expand_reply("one line", t, "g", "c", "r"), "one line");
}
}  // namespace
