// t/policy/subject_key_test.cc: the subject threshold (<threshold key="subject">): the key's
// normalisation (policy/subject_key.h), what such a rule adds per stage (nothing at RCPT, its
// unit at END-OF-MESSAGE), and the seeds' backscatter rule through the engine: N bounces with
// the same subject pass, the next is refused and the subject stays blocked for block-for, while
// another subject passes.
#include "policy/subject_key.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/clock.h"
#include "policy/engine.h"
#include "policy/threshold.h"
#include "t/policy/policy_test_util.h"

namespace mpp::policy {
namespace {

using std::chrono::seconds;
using test::load;
using test::tx;

TEST(SubjectKey, NormalisesCaseAndBlanks) {
    EXPECT_EQ(normalise_subject(" Undeliverable:   Mail\r\n\tReturned  "),
              "undeliverable: mail returned");
    EXPECT_EQ(normalise_subject("Re: Fwd: Order 4711"), "re: fwd: order 4711");
    EXPECT_EQ(normalise_subject("GR\xC3\x9CSSE aus K\xC3\x96LN"), "gr\xC3\xBCsse aus k\xC3\xB6ln");
    EXPECT_EQ(normalise_subject("\xD0\x96\xD0\x96 \xCE\x91"), "\xD0\xB6\xD0\xB6 \xCE\xB1")
        << "Cyrillic and Greek";
    EXPECT_EQ(normalise_subject("ABC \xFF\xFE DEF"), "abc \xFF\xFE def")
        << "not UTF-8: ASCII letters only, the other bytes kept";
    EXPECT_EQ(normalise_subject(""), "");
    EXPECT_EQ(normalise_subject(" \t\r\n "), "");
}

TEST(SubjectKey, CutsAtACharacterBoundary) {
    std::string s(kMaxSubjectKey - 1, 'a');
    s += "\xC3\x84";  // a 2-byte character across the bound
    std::string k = normalise_subject(s);
    EXPECT_EQ(k, std::string(kMaxSubjectKey - 1, 'a'));
    k = normalise_subject(std::string(kMaxSubjectKey - 1, 'x') + "  yz");
    EXPECT_EQ(k, std::string(kMaxSubjectKey - 1, 'x')) << "no trailing blank after the cut";
    EXPECT_LE(normalise_subject(std::string(5000, 'Q')).size(), kMaxSubjectKey);
}

TEST(SubjectKey, SubjectRulesCountAtEndOfMessageOnly) {
    config::ThresholdCfg r;
    r.key = config::ThresholdKey::subject;
    r.messages = 400;
    Transaction t = tx("192.0.2.1", "", "postmaster@example.org");
    t.subject = "Undelivered Mail";
    EXPECT_EQ(threshold_amount(r, t), std::nullopt) << "RCPT: the subject is not known yet";
    t.stage = Stage::end_of_message;
    t.recipient_count = 3;
    EXPECT_EQ(threshold_amount(r, t), 1u) << "one message";
    r.messages = 0;
    r.recipients = 100;
    EXPECT_EQ(threshold_amount(r, t), 3u);
    t.stage = Stage::data;
    EXPECT_EQ(threshold_amount(r, t), std::nullopt);
}

TEST(SubjectKey, BackscatterRuleBlocksTheSubjectForTheBlockPeriod) {
    FakeClock clock;
    EngineState state(clock);
    Engine engine(load(R"X(
      <group name="default">
        <threshold name="backscatter" key="subject" messages="2" period="2m" block-for="1h"
                   action="block"/>
      </group>)X"),
                  clock, state);
    int n = 0;
    auto eom = [&](const char* client, const char* subject) {
        auto t = tx(client, "", "postmaster@example.org", "", "m" + std::to_string(++n));
        t.stage = Stage::end_of_message;
        t.recipient_count = 1;
        t.subject = subject;
        return engine.evaluate(t);
    };
    // At RCPT the rule looks at nothing: the subject is unknown there.
    EXPECT_EQ(engine.evaluate(tx("192.0.2.1", "", "postmaster@example.org", "", "r1")).action,
              Action::none);
    EXPECT_EQ(eom("192.0.2.1", "Undelivered Mail Returned to Sender").action, Action::none);
    EXPECT_EQ(eom("192.0.2.2", "undelivered  mail returned to sender").action, Action::none)
        << "another client, the same subject in other case and blanks";
    Verdict v = eom("192.0.2.3", "UNDELIVERED MAIL RETURNED TO SENDER");
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.check, "threshold:backscatter");
    EXPECT_EQ(v.code, 550);
    EXPECT_EQ(eom("192.0.2.4", "Your order 4711").action, Action::none) << "another subject";
    clock.advance(seconds(30 * 60));
    EXPECT_EQ(eom("192.0.2.5", "Undelivered Mail Returned to Sender").action, Action::reject)
        << "blocked for block-for, past the 2 minutes of the window";
    clock.advance(seconds(31 * 60));
    EXPECT_EQ(eom("192.0.2.5", "Undelivered Mail Returned to Sender").action, Action::none);
    EXPECT_EQ(eom("192.0.2.5", "").action, Action::none) << "no subject: not counted";
}

}  // namespace
}  // namespace mpp::policy
