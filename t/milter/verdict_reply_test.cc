// t/milter/verdict_reply_test.cc: Verdict -> the milter's RCPT answer (milter/verdict_reply.h):
// defaults per action, codes and DSNs of the wrong class replaced, shadow not enforced, reply
// text in libmilter's syntax; header lines split into name and value.
#include "milter/verdict_reply.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mpp::milter {
namespace {

using policy::Action;
using policy::Verdict;
using Kind = RcptReply::Kind;

Verdict verdict(Action a, int code = 0, std::string dsn = "", std::string text = "") {
    Verdict v;
    v.action = a;
    v.code = code;
    v.dsn = std::move(dsn);
    v.text = std::move(text);
    return v;
}

TEST(VerdictReply, EachActionHasItsAnswerAndDefaults) {
    EXPECT_EQ(reply_for(verdict(Action::none)).kind, Kind::pass);
    EXPECT_EQ(reply_for(verdict(Action::accept)).kind, Kind::pass);

    auto g = reply_for(verdict(Action::greylist));
    EXPECT_EQ(g.kind, Kind::tempfail);
    EXPECT_EQ(g.code, "450");
    EXPECT_EQ(g.dsn, "4.7.1");
    EXPECT_EQ(g.text, "Greylisted, please try again later");

    auto d = reply_for(verdict(Action::defer));
    EXPECT_EQ(d.kind, Kind::tempfail);
    EXPECT_EQ(d.code, "451");
    EXPECT_EQ(d.dsn, "4.7.1");

    auto r = reply_for(verdict(Action::reject));
    EXPECT_EQ(r.kind, Kind::reject);
    EXPECT_EQ(r.code, "550");
    EXPECT_EQ(r.dsn, "5.7.1");
    EXPECT_EQ(r.text, "Rejected by policy");
}

TEST(VerdictReply, KeepsTheVerdictsCodeWhenItHasTheRightClass) {
    auto split =
        reply_for(verdict(Action::defer, 452, "4.5.3", "Try again in a separate transaction"));
    EXPECT_EQ(split.code, "452");
    EXPECT_EQ(split.dsn, "4.5.3");
    EXPECT_EQ(split.text, "Try again in a separate transaction");
    auto r = reply_for(verdict(Action::reject, 554, "5.7.0", "Go away"));
    EXPECT_EQ(r.code, "554");
    EXPECT_EQ(r.dsn, "5.7.0");

    // A 5xx on a deferral (libmilter would drop it on SMFIS_TEMPFAIL) and the reverse.
    auto d = reply_for(verdict(Action::defer, 550, "5.7.1", "x"));
    EXPECT_EQ(d.code, "451");
    EXPECT_EQ(d.dsn, "4.7.1");
    auto rj = reply_for(verdict(Action::reject, 450, "4.7.1", "x"));
    EXPECT_EQ(rj.code, "550");
    EXPECT_EQ(rj.dsn, "5.7.1");
    for (const char* bad : {"4.7", "4..1", "4.7.1.2", "4.7.1234", "x.7.1", ""})
        EXPECT_EQ(reply_for(verdict(Action::greylist, 450, bad, "x")).dsn, "4.7.1") << bad;
}

TEST(VerdictReply, ShadowVerdictsPass) {
    auto v = verdict(Action::reject, 550, "5.7.1", "would have rejected");
    v.shadow = true;
    EXPECT_EQ(reply_for(v).kind, Kind::pass);
}

TEST(VerdictReply, TextInLibmiltersSyntax) {
    // Lines stay lines (a multi-line reply), each cleaned and trimmed; blank ones go.
    EXPECT_EQ(reply_text("100% sure\r\n\n  line two\t\n", "d"), "100%% sure\nline two");
    EXPECT_EQ(reply_text("  caf\xc3\xa9  ", "d"), "caf??");
    EXPECT_EQ(reply_text("   ", "default"), "default");
    EXPECT_EQ(reply_text("", "default"), "default");
    std::string longer(kMaxReplyText + 50, 'a');
    EXPECT_EQ(reply_text(longer, "d").size(), kMaxReplyText);
    std::string percents(kMaxReplyText + 10, '%');
    EXPECT_EQ(reply_text(percents, "d").size(), 2 * kMaxReplyText)
        << "cut first, then doubled: below libmilter's 980";
    std::string many;
    for (int i = 1; i <= 40; ++i) many += "line " + std::to_string(i) + "\n";
    const std::string got = reply_text(many, "d");
    EXPECT_EQ(std::count(got.begin(), got.end(), '\n') + 1, static_cast<long>(kMaxReplyLines));
    EXPECT_EQ(got.substr(got.rfind('\n') + 1), "line 32");
}

TEST(VerdictReply, SplitsHeaderLines) {
    auto h = split_header("X-MPP-Greylist: delayed 5 seconds");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->first, "X-MPP-Greylist");
    EXPECT_EQ(h->second, "delayed 5 seconds");
    auto empty = split_header("X-Empty:");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->second, "");
    for (const char* bad : {"no colon", ": value", "Bad Name: v", "X-A: v\r\nX-B: w",
                            "X-\x01: v"})
        EXPECT_FALSE(split_header(bad)) << bad;
    EXPECT_FALSE(split_header(std::string("X-Nul: a\0b", 10)));
    EXPECT_FALSE(split_header("X-Long: " + std::string(kMaxReplyText, 'v')));
}

}  // namespace
}  // namespace mpp::milter
