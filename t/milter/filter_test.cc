// t/milter/filter_test.cc: the milter's callbacks logic (milter/filter.h) over a real
// policy::Checks (config from a string, greylist in memory): negotiated steps, actions and
// macros; per-recipient answers of the engine's verdicts (greylist 450, spam trap 550 and the
// block list it fills, another recipient's group passing, shadow decisions not enforced); the
// X-MPP-Greylist header at end-of-message; the Transaction the engine sees; abort and close
// freeing the message; <milter checks> placement.
// The MTA side (smfi_*) is a recording MilterContext: it is also the only way to make
// smfi_setreply or smfi_insheader fail, which no real MTA can be made to do on demand.
#include "milter/filter.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "lib/log.h"
#include "lib/metrics.h"
#include "t/milter/filter_test_util.h"

namespace mpp::milter {
namespace {

using namespace test;

const char* kGroups = R"X(
  <group name="vip">
    <match recipient-domain="vip.example"/>
  </group>
  <group name="shadow">
    <match recipient-domain="shadow.example"/>
    <spamtrap pattern="^trap@shadow\.example$" mode="shadow"/>
  </group>
  <group name="default">
    <greylist delay="0s" retry-window="1h"/>
    <spamtrap pattern="^trap@example\.net$" block-for="1h"/>
  </group>
)X";

TEST(Filter, NegotiatesOnlyTheStepsAndActionsItUsesAndAsksForItsMacros) {
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.filter.open_session();
    ASSERT_TRUE(s->checks) << "auto without a policy server: the milter checks";
    auto n = rig.filter.negotiate(*s, mc, 0x1FF, 0x1FFFFF);
    EXPECT_EQ(n.actions, static_cast<unsigned long>(SMFIF_ADDHDRS | SMFIF_SETSYMLIST));
    EXPECT_EQ(n.protocol, static_cast<unsigned long>(SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH |
                                                     SMFIP_NR_HELO | SMFIP_NR_HDR | SMFIP_NR_BODY));
    EXPECT_EQ(s->protocol, n.protocol);
    EXPECT_EQ(mc.symlists, (std::vector<std::pair<int, std::string>>{
                               {SMFIM_CONNECT, "j _ {daemon_name} {if_addr}"},
                               {SMFIM_ENVFROM, "i {auth_authen}"},
                               {SMFIM_ENVRCPT, "i"},
                               {SMFIM_EOM, "i"}}));

    // An MTA that offers less gets only what it offers; no macro lists without SETSYMLIST.
    FakeContext old;
    auto s2 = rig.filter.open_session();
    auto n2 = rig.filter.negotiate(*s2, old, SMFIF_ADDHDRS | SMFIF_CHGHDRS, SMFIP_NR_HDR);
    EXPECT_EQ(n2.actions, static_cast<unsigned long>(SMFIF_ADDHDRS));
    EXPECT_EQ(n2.protocol, static_cast<unsigned long>(SMFIP_NR_HDR));
    EXPECT_TRUE(old.symlists.empty());
}

TEST(Filter, ChecksPlacementFollowsTheAttributeAndThePolicyServer) {
    EXPECT_TRUE(milter_runs_checks(config::MilterChecks::automatic, false));
    EXPECT_FALSE(milter_runs_checks(config::MilterChecks::automatic, true));
    EXPECT_TRUE(milter_runs_checks(config::MilterChecks::yes, true));
    EXPECT_FALSE(milter_runs_checks(config::MilterChecks::no, false));

    auto cfg = load(kGroups);
    EXPECT_EQ(checks_placement_warning(*cfg, false), "");
    EXPECT_EQ(checks_placement_warning(*cfg, true), "");
    auto no = load(std::string("<milter checks=\"no\"/>") + kGroups);
    EXPECT_NE(checks_placement_warning(*no, false).find("no effect"), std::string::npos);
    EXPECT_EQ(checks_placement_warning(*no, true), "");
    auto yes = load(std::string("<milter checks=\"yes\"/>") + kGroups);
    EXPECT_NE(checks_placement_warning(*yes, true).find("twice"), std::string::npos);
    EXPECT_EQ(checks_placement_warning(*load("<milter checks=\"no\"/>"), false), "")
        << "no group has checks: nothing to warn about";
    const std::string subject = R"X(<group name="default">
        <threshold name="bounces" key="subject" messages="400" period="2m"/></group>)X";
    EXPECT_EQ(checks_placement_warning(*load(subject), false), "") << "the milter counts them";
    EXPECT_NE(checks_placement_warning(*load(subject), true).find("key=\"subject\"> has no "
                                                                  "effect"),
              std::string::npos)
        << "the policy server runs the checks: nobody sees the subject";
}

TEST(Filter, WithThePolicyServerServingAutoLeavesRcptToThePolicyServer) {
    Rig rig(kGroups, /*policy_server=*/true);
    FakeContext mc;
    auto s = rig.filter.open_session();
    EXPECT_FALSE(s->checks);
    auto n = rig.filter.negotiate(*s, mc, 0x1FF, 0x1FFFFF);
    EXPECT_TRUE(n.protocol & SMFIP_NR_RCPT) << "RCPT needs no reply when nothing is checked";
    EXPECT_FALSE(n.actions & SMFIF_ADDHDRS);
    sockaddr_in sa = ipv4("192.0.2.5");
    rig.filter.connect(*s, mc, "client.example", reinterpret_cast<sockaddr*>(&sa));
    rig.mail(*s, mc, "a@sender.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_NOREPLY);
    EXPECT_TRUE(mc.replies.empty());
    // The engine has not seen the triplet: the policy server's first question finds it new.
    auto v = rig.checks->evaluate(policy::test::tx("192.0.2.5", "a@sender.example",
                                                    "bob@rcpt.example", "", "p1"));
    EXPECT_EQ(v.action, policy::Action::greylist);
    EXPECT_NE(v.reason.find("new triplet"), std::string::npos) << v.reason;

    Rig forced(std::string("<milter checks=\"yes\"/>") + kGroups, true);
    EXPECT_TRUE(forced.filter.open_session()->checks);
}

TEST(Filter, GreylistsThenPassesAndAddsTheHeaderAtEndOfMessage) {
    LogCapture logs;
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.5");
    ASSERT_EQ(rig.mail(*s, mc, "alice@sender.example"), SMFIS_CONTINUE);
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "450");
    EXPECT_EQ(std::get<1>(mc.replies[0]), "4.7.1");
    EXPECT_FALSE(std::get<2>(mc.replies[0]).empty());
    EXPECT_EQ(rig.filter.abort(*s), SMFIS_CONTINUE);
    EXPECT_EQ(s->message, nullptr) << "abort frees the message";
    EXPECT_TRUE(s->connected) << "abort keeps the connection";

    // The retry (delay 0s) passes on the same connection and gets the header at the end.
    mc.macros["i"] = "4XyZ1";
    ASSERT_EQ(rig.mail(*s, mc, "alice@sender.example"), SMFIS_CONTINUE);
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_CONTINUE);
    EXPECT_EQ(mc.replies.size(), 1u) << "no reply set for a passing recipient";
    EXPECT_EQ(rig.header(*s, mc, "Subject", "hi"), SMFIS_NOREPLY);
    EXPECT_EQ(rig.body(*s, mc, std::string(100, 'x')), SMFIS_NOREPLY);
    EXPECT_TRUE(mc.headers.empty()) << "headers are added at end-of-message only";
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE);
    ASSERT_EQ(mc.headers.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.headers[0]), 0) << "on top";
    EXPECT_EQ(std::get<1>(mc.headers[0]), "X-MPP-Greylist");
    EXPECT_EQ(std::get<2>(mc.headers[0]), "delayed 0 seconds");
    EXPECT_EQ(s->message, nullptr);
    rig.filter.close(*s);

    const std::string text = logs.text();
    EXPECT_NE(text.find("client=client.example[192.0.2.5] from=<alice@sender.example> "
                        "to=<bob@rcpt.example> group=default check=greylist action=greylist"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("NOQUEUE: client=client.example[192.0.2.5] from=<alice@sender.example> "
                        "nrcpt=0 refused=1 size=0 action=refused delay="),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("4XyZ1: client=client.example[192.0.2.5] from=<alice@sender.example> "
                        "nrcpt=1 refused=0 size=113 groups=default action=accept delay="),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("disconnect from client.example[192.0.2.5]"), std::string::npos) << text;
}

TEST(Filter, AnswersEachRecipientOnItsOwn) {
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.6");
    rig.mail(*s, mc, "alice@sender.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_TEMPFAIL);
    EXPECT_EQ(rig.rcpt(*s, mc, "boss@vip.example"), SMFIS_CONTINUE) << "group vip: no greylist";
    EXPECT_EQ(s->message->accepted, 1u);
    EXPECT_EQ(s->message->refused, 1u);
    EXPECT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE);
    EXPECT_TRUE(mc.headers.empty());
}

TEST(Filter, SpamTrapRejectsAndBlocksTheClientButNotOthers) {
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.session(mc, "trapped.example", "192.0.2.66");
    rig.mail(*s, mc, "mallory@spam.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "trap@example.net"), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "550");
    EXPECT_EQ(std::get<1>(mc.replies[0]), "5.7.1");
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_REJECT) << "the client is blocked now";
    rig.filter.abort(*s);
    rig.filter.close(*s);

    FakeContext other_mc;
    auto other = rig.session(other_mc, "innocent.example", "192.0.2.77");
    rig.mail(*other, other_mc, "mallory@spam.example");
    EXPECT_EQ(rig.rcpt(*other, other_mc, "bob@rcpt.example"), SMFIS_TEMPFAIL)
        << "another client is greylisted, not rejected";
    EXPECT_EQ(std::get<0>(other_mc.replies.at(0)), "450");
}

TEST(Filter, ShadowDecisionsAreNotEnforced) {
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.8");
    rig.mail(*s, mc, "a@sender.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "trap@shadow.example"), SMFIS_CONTINUE);
    EXPECT_TRUE(mc.replies.empty());
    EXPECT_EQ(rig.rcpt(*s, mc, "other@shadow.example"), SMFIS_CONTINUE)
        << "a shadow trap blocks nobody";
}

TEST(Filter, TheEngineSeesTheTransactionOfTheMilter) {
    Rig rig(kGroups);
    FakeContext mc;
    mc.macros["{auth_authen}"] = "alice";
    auto s = rig.session(mc, "[192.0.2.9]", "192.0.2.9");
    EXPECT_EQ(s->client_name, "unknown") << "Postfix's [ADDR] for a client without a name";
    Argv from{"<alice@sender.example>", "BODY=8BITMIME", "SIZE=12345"};
    rig.filter.mail(*s, mc, from.get());
    auto t = transaction_for(*s, *s->message, "bob@rcpt.example");
    EXPECT_EQ(t.stage, policy::Stage::rcpt);
    ASSERT_TRUE(t.client);
    EXPECT_EQ(t.client->str(), "192.0.2.9");
    EXPECT_EQ(t.client_address, "192.0.2.9");
    EXPECT_EQ(t.client_name, "unknown");
    EXPECT_EQ(t.helo, "helo.example");
    EXPECT_EQ(t.sender, "alice@sender.example");
    EXPECT_EQ(t.recipient, "bob@rcpt.example");
    EXPECT_EQ(t.sasl_username, "alice");
    EXPECT_EQ(t.size, 12345u);
    EXPECT_EQ(t.queue_id, "");
    EXPECT_EQ(t.instance.rfind("milter.", 0), 0u) << t.instance;

    rig.filter.abort(*s);
    rig.mail(*s, mc, "");
    auto t2 = transaction_for(*s, *s->message, "x@y.example");
    EXPECT_EQ(t2.sender, "") << "the null sender <>";
    EXPECT_EQ(t2.size, 0u);
    EXPECT_NE(t2.instance, t.instance) << "each message its own id";
}

TEST(Filter, BeforeTheEngineIsReadyARecipientGetsATempfail) {
    Rig rig(kGroups, false, /*engine=*/false);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.10");
    rig.mail(*s, mc, "a@sender.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "boss@vip.example"), SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(mc.replies[0], std::make_tuple(std::string("451"), std::string("4.3.0"),
                                             std::string("Mail filter starting, try again later")));
}

TEST(Filter, FailingActionsAreCountedAndChangeNoAnswer) {
    Rig rig(kGroups);
    FakeContext mc;
    auto& errors = metrics::get("milter-action-errors");
    auto s = rig.session(mc, "client.example", "192.0.2.11");
    rig.mail(*s, mc, "a@sender.example");
    mc.fail_reply = true;
    const auto before = errors.get();
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_TEMPFAIL)
        << "without its text the MTA still defers (with its default reply)";
    EXPECT_EQ(errors.get(), before + 1);
    rig.filter.abort(*s);

    mc.fail_header = true;
    rig.mail(*s, mc, "a@sender.example");
    EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE) << "the message goes on without the header";
    EXPECT_EQ(errors.get(), before + 2);
}

// A client on the global block list is refused at connect (554 5.7.1); a block of one group
// waits for RCPT; <milter block-at-connect="no"> leaves global blocks to RCPT too.
TEST(Filter, GloballyBlockedClientIsRefusedAtConnect) {
    for (bool at_connect : {true, false}) {
        SCOPED_TRACE(at_connect ? "block-at-connect yes" : "block-at-connect no");
        Rig rig(std::string("<milter block-at-connect=\"") + (at_connect ? "yes" : "no") +
                "\"/>" + kGroups);
        auto& blocks = rig.checks->state().blocks;
        blocks.add(*mpp::IpAddr::parse("192.0.2.90"), "", std::chrono::hours(1),
                   policy::BlockSource::admin, "added by mppctl");
        blocks.add(*mpp::IpAddr::parse("192.0.2.91"), "default", std::chrono::hours(1),
                   policy::BlockSource::spamtrap, "spam trap trap@example.net");
        FakeContext mc;
        auto s = rig.filter.open_session();
        rig.filter.negotiate(*s, mc, 0x1FF, 0x1FFFFF);
        sockaddr_in sa = ipv4("192.0.2.90");
        EXPECT_EQ(rig.filter.connect(*s, mc, "blocked.example", reinterpret_cast<sockaddr*>(&sa)),
                  at_connect ? SMFIS_REJECT : SMFIS_CONTINUE);
        if (at_connect) {
            ASSERT_EQ(mc.replies.size(), 1u);
            EXPECT_EQ(std::get<0>(mc.replies[0]), "554");
            EXPECT_EQ(std::get<1>(mc.replies[0]), "5.7.1");
            EXPECT_EQ(std::get<2>(mc.replies[0]), "Client blocked: added by mppctl");
        } else {
            rig.mail(*s, mc, "a@sender.example");
            EXPECT_EQ(rig.rcpt(*s, mc, "bob@rcpt.example"), SMFIS_REJECT) << "refused at RCPT";
        }
        FakeContext group_mc;  // blocked in group default only: connect passes, RCPT refuses
        auto g = rig.session(group_mc, "grouped.example", "192.0.2.91");
        rig.mail(*g, group_mc, "a@sender.example");
        EXPECT_EQ(rig.rcpt(*g, group_mc, "bob@rcpt.example"), SMFIS_REJECT);
    }
}

TEST(Filter, DrainingTempfailsNewConnections) {
    Rig rig(kGroups);
    rig.context.drain();
    FakeContext mc;
    auto s = rig.filter.open_session();
    sockaddr_in sa = ipv4("192.0.2.12");
    EXPECT_EQ(rig.filter.connect(*s, mc, "client.example", reinterpret_cast<sockaddr*>(&sa)),
              SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "421");
}

TEST(Filter, CloseWithAMessageOpenLogsItAndFreesIt) {
    LogCapture logs;
    Rig rig(kGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.13");
    mc.macros["i"] = "5AbC2";
    rig.mail(*s, mc, "a@sender.example");
    rig.rcpt(*s, mc, "boss@vip.example");
    rig.filter.close(*s);
    EXPECT_EQ(s->message, nullptr);
    EXPECT_NE(logs.text().find("5AbC2: client=client.example[192.0.2.13] from=<a@sender.example> "
                               "nrcpt=1 refused=0 size=0 action=abort"),
              std::string::npos)
        << logs.text();
}

TEST(Message, KeepsOneHeaderPerNameUpToTheBound) {
    Message m;
    EXPECT_TRUE(m.add_header("X-MPP-Greylist: delayed 5 seconds"));
    EXPECT_FALSE(m.add_header("x-mpp-greylist: delayed 6 seconds"));
    EXPECT_FALSE(m.add_header("no colon"));
    for (std::size_t i = 1; i < Message::kMaxAddedHeaders; ++i)
        EXPECT_TRUE(m.add_header("X-H" + std::to_string(i) + ": v"));
    EXPECT_FALSE(m.add_header("X-One-Too-Many: v"));
    EXPECT_EQ(m.headers.size(), Message::kMaxAddedHeaders);
}

}  // namespace
}  // namespace mpp::milter
