// t/milter/filter_content_test.cc: the milter's content stage (milter/filter.h): negotiation
// when header and body are needed, buffering into a MessageBuffer per message and its limits
// (552 5.3.4 where the message becomes too big, 451 4.3.0 when the spool fails), the engine at
// end-of-message (thresholds counting recipients, size and subject refusing the whole message).
// Real policy::Checks, real MessageBuffer in a temp spool; the MTA side is the recording
// context of filter_test_util.h.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "lib/metrics.h"
#include "milter/filter.h"
#include "t/milter/filter_test_util.h"

namespace mpp::milter {
namespace {

using namespace test;

// A spool directory of its own, removed with the object.
struct Spool {
    std::filesystem::path dir;
    Spool() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mpp-spool-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data()) ? tmpl : "";
    }
    ~Spool() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string store() const { return "<store spool=\"" + dir.string() + "\"/>\n"; }
};

// One message from MAIL FROM to the last body chunk; returns the first answer other than
// CONTINUE/NOREPLY, else CONTINUE.
sfsistat send(Rig& rig, Session& s, FakeContext& mc, const std::vector<std::string>& rcpts,
              const std::string& subject, const std::string& body,
              const std::string& from = "alice@sender.example") {
    if (auto r = rig.mail(s, mc, from); r != SMFIS_CONTINUE) return r;
    for (const auto& to : rcpts)
        if (auto r = rig.rcpt(s, mc, to); r != SMFIS_CONTINUE && r != SMFIS_NOREPLY) return r;
    for (auto [name, value] : {std::pair<const char*, std::string>{"From", from},
                               {"Subject", subject}})
        if (auto r = rig.header(s, mc, name, value.c_str()); r != SMFIS_CONTINUE) return r;
    if (auto r = rig.body(s, mc, body); r != SMFIS_CONTINUE) return r;
    return SMFIS_CONTINUE;
}

const char* kFilterGroup = R"X(
  <group name="default">
    <header-filter header="Subject" pattern="^forbidden" action="reject"/>
  </group>
)X";

TEST(FilterContent, NegotiatesHeadersBodyRepliesAndRecipientRemovalOnlyWhenNeeded) {
    Spool spool;
    Rig rig(spool.store() + kFilterGroup);
    FakeContext mc;
    auto s = rig.filter.open_session();
    EXPECT_TRUE(s->content);
    EXPECT_FALSE(s->eom_checks) << "no threshold counts at end-of-message";
    auto n = rig.filter.negotiate(*s, mc, 0x1FF, 0x1FFFFF);
    EXPECT_EQ(n.actions,
              static_cast<unsigned long>(SMFIF_ADDHDRS | SMFIF_DELRCPT | SMFIF_SETSYMLIST));
    EXPECT_EQ(n.protocol, static_cast<unsigned long>(SMFIP_NOUNKNOWN | SMFIP_NODATA |
                                                     SMFIP_NOEOH | SMFIP_NR_HELO))
        << "headers and body get a reply: a message too big is refused where it becomes so";

    Rig plain(spool.store() + "<group name=\"default\"/>");
    auto p = plain.filter.open_session();
    EXPECT_FALSE(p->content);
    auto pn = plain.filter.negotiate(*p, mc, 0x1FF, 0x1FFFFF);
    EXPECT_FALSE(pn.actions & SMFIF_DELRCPT);
    EXPECT_TRUE(pn.protocol & SMFIP_NR_HDR);
    EXPECT_TRUE(pn.protocol & SMFIP_NR_BODY);

    Rig thresholds(spool.store() + R"X(<group name="default">
        <threshold name="bounces" key="subject" messages="400" period="2m"/></group>)X");
    auto t = thresholds.filter.open_session();
    EXPECT_TRUE(t->content);
    EXPECT_TRUE(t->eom_checks);
    auto tn = thresholds.filter.negotiate(*t, mc, 0x1FF, 0x1FFFFF);
    EXPECT_FALSE(tn.actions & SMFIF_DELRCPT) << "no header filter: no recipient is removed";
    EXPECT_TRUE(tn.actions & SMFIF_ADDHDRS);

    Rig policy_server(spool.store() + R"X(<group name="default">
        <threshold name="r" recipients="10" period="2m"/></group>)X",
                      /*policy_server=*/true);
    auto ps = policy_server.filter.open_session();
    EXPECT_FALSE(ps->eom_checks) << "the policy server counts at END-OF-MESSAGE";
    EXPECT_FALSE(ps->content);
}

TEST(FilterContent, BuffersHeadersAndBodyAndFreesThemAtTheEnd) {
    Spool spool;
    Rig rig(spool.store() + kFilterGroup);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.20");
    ASSERT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, "hello", "line 1\r\nline 2\r\n"),
              SMFIS_CONTINUE);
    ASSERT_TRUE(s->message && s->message->buffer);
    std::string text;
    ASSERT_TRUE(s->message->buffer->read_all(text));
    EXPECT_EQ(text,
              "From: alice@sender.example\r\nSubject: hello\r\n\r\nline 1\r\nline 2\r\n");
    EXPECT_EQ(s->message->recipients, std::vector<std::string>{"bob@rcpt.example"});
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE);
    EXPECT_EQ(s->message, nullptr);

    // Abort frees the buffer too, and the next message on the connection starts empty.
    ASSERT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, "one", "x"), SMFIS_CONTINUE);
    rig.filter.abort(*s);
    EXPECT_EQ(s->message, nullptr);
    ASSERT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, "two", "y"), SMFIS_CONTINUE);
    EXPECT_EQ(s->message->buffer->headers().size(), 2u);
    EXPECT_EQ(s->message->buffer->body_size(), 1u);
    rig.filter.close(*s);
    EXPECT_EQ(s->message, nullptr);
}

TEST(FilterContent, AMessageTooBigGets552WhereItBecomesSo) {
    LogCapture logs;
    Spool spool;
    Rig rig(spool.store() + "<limits max-message-size=\"5000\" spill-size=\"4096\"/>\n" +
            kFilterGroup);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.21");
    mc.macros["i"] = "7Big1";
    EXPECT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, "big", std::string(4800, 'x')),
              SMFIS_CONTINUE)
        << "4800 bytes of body and the header fields fit";
    EXPECT_EQ(rig.body(*s, mc, std::string(200, 'y')), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(mc.replies[0], std::make_tuple(std::string("552"), std::string("5.3.4"),
                                             std::string("Message size exceeds fixed maximum "
                                                         "message size")));
    EXPECT_EQ(s->message, nullptr) << "the refused message is freed at once";
    EXPECT_EQ(rig.filter.abort(*s), SMFIS_CONTINUE) << "the MTA's abort finds nothing to free";
    EXPECT_NE(logs.text().find("7Big1: client=client.example[192.0.2.21] "
                               "from=<alice@sender.example> nrcpt=1 refused=0"),
              std::string::npos)
        << logs.text();
    EXPECT_NE(logs.text().find("action=reject"), std::string::npos) << logs.text();

    // Over the limit already in the header fields: refused at that header.
    mc.replies.clear();
    rig.mail(*s, mc, "a@sender.example");
    rig.rcpt(*s, mc, "bob@rcpt.example");
    EXPECT_EQ(rig.header(*s, mc, "X-Long", std::string(6000, 'h').c_str()), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "552");
}

TEST(FilterContent, ASpoolThatFailsGets451) {
    LogCapture logs;
    Rig rig("<store spool=\"/nonexistent/mpp-spool\"/>\n<limits spill-size=\"4096\"/>\n" +
            std::string(kFilterGroup));
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.22");
    EXPECT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, "x", std::string(5000, 'b')),
              SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "451");
    EXPECT_EQ(std::get<1>(mc.replies[0]), "4.3.0");
    EXPECT_EQ(s->message, nullptr);
    EXPECT_NE(logs.text().find("action=defer"), std::string::npos) << logs.text();
    EXPECT_NE(logs.text().find("/nonexistent/mpp-spool"), std::string::npos) << logs.text();
}

TEST(FilterContent, EndOfMessageThresholdsRefuseTheWholeMessage) {
    LogCapture logs;
    Spool spool;
    Rig rig(spool.store() + R"X(
      <group name="vip">
        <match recipient-domain="vip.example"/>
        <threshold name="vip-rcpts" recipients="3" period="1h" action="block"/>
      </group>
      <group name="default">
        <threshold name="volume" size="10K" period="1h" action="defer"/>
      </group>)X");
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.23");
    EXPECT_EQ(send(rig, *s, mc, {"a@vip.example", "b@vip.example"}, "s", "x"), SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE) << "2 recipients of 3";
    EXPECT_TRUE(mc.replies.empty());
    // 2 + 2 > 3: the group of the first recipient counts, and refuses the whole message.
    mc.macros["i"] = "8Rcp1";
    EXPECT_EQ(send(rig, *s, mc, {"c@vip.example", "d@rcpt.example"}, "s", "x"), SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "550");
    EXPECT_EQ(std::get<1>(mc.replies[0]), "5.7.1");
    EXPECT_EQ(s->message, nullptr);
    EXPECT_NE(logs.text().find("8Rcp1: client=client.example[192.0.2.23] from=<alice@"
                               "sender.example> nrcpt=2 refused=0 size="),
              std::string::npos)
        << logs.text();
    EXPECT_NE(logs.text().find("checks=threshold:vip-rcpts action=reject"), std::string::npos)
        << logs.text();

    // The default group counts the buffered bytes: 8 KiB pass, 8 more make 16 > 10.
    mc.replies.clear();
    mc.macros["i"] = "";
    EXPECT_EQ(send(rig, *s, mc, {"e@rcpt.example"}, "s", std::string(8000, 'z')),
              SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE);
    EXPECT_EQ(send(rig, *s, mc, {"e@rcpt.example"}, "s", std::string(8000, 'z')),
              SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "451");
}

TEST(FilterContent, SubjectThresholdRefusesTheThirdMessageWithTheSameSubject) {
    LogCapture logs;
    Spool spool;
    Rig rig(spool.store() + R"X(
      <group name="default">
        <threshold name="bounces" key="subject" messages="2" period="2m" block-for="1h"
                   action="defer"/>
      </group>)X");
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.24");
    for (const char* subject : {"Undelivered Mail", "=?utf-8?q?undelivered_mail?="}) {
        ASSERT_EQ(send(rig, *s, mc, {"bob@rcpt.example"}, subject, "x", ""), SMFIS_CONTINUE);
        EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE) << subject;
    }
    ASSERT_EQ(send(rig, *s, mc, {"carol@rcpt.example"}, "Other subject", "x", ""),
              SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_CONTINUE) << "another subject passes";
    EXPECT_TRUE(mc.replies.empty());
    ASSERT_EQ(send(rig, *s, mc, {"carol@rcpt.example"}, "UNDELIVERED   mail", "x", ""),
              SMFIS_CONTINUE);
    EXPECT_EQ(rig.filter.eom(*s, mc), SMFIS_TEMPFAIL)
        << "the third with that subject (decoded, in any case and spacing)";
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "451");
    EXPECT_NE(logs.text().find("checks=threshold:bounces action=defer"), std::string::npos)
        << logs.text();
}

const char* kTwoGroups = R"X(
  <group name="sales">
    <match recipient-domain="sales.example"/>
    <header-filter header="Subject" pattern="^spam" action="reject" reason="spam subject"/>
    <header-filter header="Subject" pattern="^later" action="defer"/>
    <header-filter header="Subject" pattern="^drop" action="discard"/>
    <header-filter header="Subject" pattern="^offer" action="tag" reason="an offer"/>
    <reject on="header-filter" code="554" dsn="5.7.0">No %REASON% for %GROUP% (%RECIPIENT%)</reject>
  </group>
  <group name="default">
    <header-filter header="Subject" pattern="^spam" action="defer"/>
    <header-filter header="Subject" pattern="^drop" action="discard"/>
    <header-filter header="Subject" pattern="offer" action="score" score="2.5"/>
    <header-filter header="From" pattern="@sender\.example$" action="score" score="1"/>
    <header-filter header="Subject" pattern="^quarantine" action="quarantine"/>
  </group>)X";

// Runs one message to `rcpts` with `subject` up to end-of-message and returns its answer.
sfsistat eom_of(Rig& rig, Session& s, FakeContext& mc, const std::vector<std::string>& rcpts,
                const std::string& subject) {
    mc.replies.clear();
    mc.headers.clear();
    mc.removed.clear();
    EXPECT_EQ(send(rig, s, mc, rcpts, subject, "body\r\n"), SMFIS_CONTINUE);
    return rig.filter.eom(s, mc);
}

TEST(FilterContent, HeaderFilterActionsDecideTheMessage) {
    LogCapture logs;
    Spool spool;
    Rig rig(spool.store() + kTwoGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.30");
    mc.macros["i"] = "9Rej1";
    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example"}, "spam here"), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(mc.replies[0], std::make_tuple(std::string("554"), std::string("5.7.0"),
                                             std::string("No spam subject for sales "
                                                         "(a@sales.example)")))
        << "the group's template for header-filter";
    EXPECT_EQ(s->message, nullptr);
    EXPECT_NE(logs.text().find("9Rej1: client=client.example[192.0.2.30] from=<alice@sender."
                               "example> nrcpt=1 refused=0 size="),
              std::string::npos);
    EXPECT_NE(logs.text().find("groups=sales checks=header-filter:"), std::string::npos)
        << logs.text();
    EXPECT_NE(logs.text().find("(reject) action=reject delay="), std::string::npos)
        << logs.text();

    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example"}, "later please"), SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "451") << "no defer template: the built-in one";
    EXPECT_EQ(std::get<1>(mc.replies[0]), "4.7.1");

    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example"}, "drop me"), SMFIS_DISCARD);
    EXPECT_TRUE(mc.replies.empty());
    EXPECT_NE(logs.text().find("action=discard"), std::string::npos);

    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example"}, "offer inside"), SMFIS_CONTINUE);
    ASSERT_EQ(mc.headers.size(), 1u);
    EXPECT_EQ(mc.headers[0], std::make_tuple(0, std::string("X-MPP-Status"),
                                             std::string("tagged (an offer)")));

    // Score filters add up (From 1 + Subject 2.5); nothing else is added.
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example"}, "an offer"), SMFIS_CONTINUE);
    ASSERT_EQ(mc.headers.size(), 1u);
    EXPECT_EQ(mc.headers[0],
              std::make_tuple(0, std::string("X-MPP-Score"), std::string("3.5")));
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example"}, "hello"), SMFIS_CONTINUE);
    ASSERT_EQ(mc.headers.size(), 1u) << "the From score alone";
    EXPECT_EQ(std::get<2>(mc.headers[0]), "1");

    // Without a quarantine store, quarantine rejects (nothing is delivered unseen).
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example"}, "quarantine this"), SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_NE(std::get<2>(mc.replies[0]).find("quarantine not available"), std::string::npos)
        << std::get<2>(mc.replies[0]);

    // With one, the message is stored for its recipient and discarded.
    std::vector<store::Entry> stored;
    std::string body;
    rig.context.set_quarantine([&](const store::Entry& e, const auto& open) {
        stored.push_back(e);
        auto reader = open();
        char buf[4096];
        for (std::size_t n; (n = reader->read(buf, sizeof buf)) > 0;) body.append(buf, n);
        return std::string();
    });
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example"}, "quarantine this"), SMFIS_DISCARD);
    EXPECT_TRUE(mc.replies.empty());
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].recipients.size(), 1u);
    EXPECT_EQ(stored[0].recipients[0].address, "b@rcpt.example");
    EXPECT_EQ(stored[0].sender, "alice@sender.example");
    EXPECT_EQ(stored[0].queue_id, "9Rej1");
    EXPECT_EQ(stored[0].subject, "quarantine this");
    EXPECT_NE(body.find("Subject: quarantine this\r\n"), std::string::npos) << body;
    EXPECT_NE(logs.text().find("action=quarantine"), std::string::npos) << logs.text();

    // A store that fails: the message is tempfailed, never accepted and lost.
    rig.context.set_quarantine(
        [](const store::Entry&, const auto&) { return std::string("disk full"); });
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example"}, "quarantine this"), SMFIS_TEMPFAIL);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "451");
}

TEST(FilterContent, GroupsThatDisagreeRemoveOnlyTheRefusingRecipients) {
    LogCapture logs;
    Spool spool;
    Rig rig(spool.store() + kTwoGroups);
    FakeContext mc;
    auto s = rig.session(mc, "client.example", "192.0.2.31");
    mc.macros["i"] = "9Mix1";
    // "offer": sales tags, default scores: both accept, one message with both headers.
    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example", "b@rcpt.example"}, "offer"),
              SMFIS_CONTINUE);
    EXPECT_TRUE(mc.removed.empty());
    ASSERT_EQ(mc.headers.size(), 2u);
    EXPECT_EQ(std::get<1>(mc.headers[0]), "X-MPP-Status");
    EXPECT_EQ(std::get<2>(mc.headers[1]), "3.5");

    // "later": sales defers, default accepts (it scores): the sales recipient is removed.
    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example", "b@rcpt.example", "c@sales.example"},
                     "later"),
              SMFIS_CONTINUE);
    EXPECT_EQ(mc.removed, (std::vector<std::string>{"<a@sales.example>", "<c@sales.example>"}));
    EXPECT_TRUE(mc.replies.empty());
    const std::string text = logs.text();
    EXPECT_NE(text.find("9Mix1: client=client.example[192.0.2.31] from=<alice@sender.example> "
                        "to=<c@sales.example> group=sales check=header-filter:"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("action=defer reason=\"Subject\": recipient removed"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("nrcpt=3 refused=0 size="), std::string::npos) << text;
    EXPECT_NE(text.find(" removed=2 groups=sales,default checks="), std::string::npos) << text;
    EXPECT_NE(text.find("groups=sales,default"), std::string::npos) << text;

    // "spam": sales rejects, default defers: all refuse, so the strictest (reject, with the
    // sales template) answers the whole message.
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example", "a@sales.example"}, "spam"),
              SMFIS_REJECT);
    ASSERT_EQ(mc.replies.size(), 1u);
    EXPECT_EQ(std::get<0>(mc.replies[0]), "554");
    EXPECT_TRUE(mc.removed.empty());
    // "drop": both discard.
    EXPECT_EQ(eom_of(rig, *s, mc, {"b@rcpt.example", "a@sales.example"}, "drop"),
              SMFIS_DISCARD);

    // A removal the MTA refuses is counted; the message still goes on.
    auto& errors = metrics::get("milter-action-errors");
    const auto before = errors.get();
    mc.fail_delete = true;
    EXPECT_EQ(eom_of(rig, *s, mc, {"a@sales.example", "b@rcpt.example"}, "later"),
              SMFIS_CONTINUE);
    EXPECT_EQ(errors.get(), before + 1);
    EXPECT_NE(logs.text().find("smfi_delrcpt failed"), std::string::npos);
}

}  // namespace
}  // namespace mpp::milter
