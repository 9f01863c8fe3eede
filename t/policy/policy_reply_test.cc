// t/policy/policy_reply_test.cc: Verdict -> Postfix `action=` value, for every action, standalone
// or not, bad codes, hostile text and PREPEND headers.
#include "policy/policy_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using mpp::policy::Action;
using mpp::policy::Verdict;
using mpp::policy::reply_for;

namespace {

Verdict make(Action a, int code = 0, std::string dsn = "", std::string text = "",
             std::vector<std::string> prepend = {}) {
    Verdict v;
    v.action = a;
    v.code = code;
    v.dsn = std::move(dsn);
    v.text = std::move(text);
    v.prepend = std::move(prepend);
    return v;
}

}  // namespace

TEST(PolicyReply, EachAction) {
    struct Case {
        const char* name;
        Verdict v;
        bool standalone;
        std::string want;
    };
    const std::vector<Case> cases = {
        {"none", make(Action::none), false, "DUNNO"},
        {"none standalone", make(Action::none), true, "OK"},
        {"accept", make(Action::accept), false, "OK"},
        {"greylist", make(Action::greylist, 450, "4.7.1", "Greylisted for 300 seconds"), false,
         "DEFER_IF_PERMIT 4.7.1 Greylisted for 300 seconds"},
        {"greylist default text", make(Action::greylist), false,
         "DEFER_IF_PERMIT 4.7.1 Greylisted, please try again later"},
        {"defer", make(Action::defer, 451, "4.7.1", "Rate limit"), false, "451 4.7.1 Rate limit"},
        {"defer 452", make(Action::defer, 452, "4.5.3", "Try again"), false, "452 4.5.3 Try again"},
        {"defer with a 5xx code", make(Action::defer, 550, "5.7.1", "x"), false, "451 4.7.1 x"},
        {"defer default", make(Action::defer), true,
         "451 4.7.1 Temporarily deferred, please try again later"},
        {"reject", make(Action::reject, 554, "5.7.0", "Spam trap"), false, "554 5.7.0 Spam trap"},
        {"reject with a 4xx code", make(Action::reject, 451, "4.7.1", "x"), false, "550 5.7.1 x"},
        {"reject bad dsn", make(Action::reject, 550, "5.7", "x"), false, "550 5.7.1 x"},
        {"reject default", make(Action::reject), false, "550 5.7.1 Rejected by policy"},
        {"text with newlines", make(Action::reject, 550, "5.7.1", "a\r\nb\x01" "c"), false,
         "550 5.7.1 a  b c"},
        {"text cut", make(Action::reject, 550, "5.7.1", std::string(1000, 'x')), false,
         "550 5.7.1 " + std::string(400, 'x')},
        {"prepend on dunno", make(Action::none, 0, "", "", {"X-MPP-Greylist: delayed 312 s",
                                                            "X-Second: y"}),
         false, "PREPEND X-MPP-Greylist: delayed 312 s"},
        {"prepend on OK dropped", make(Action::none, 0, "", "", {"X-A: b"}), true, "OK"},
        {"prepend on reject dropped", make(Action::reject, 550, "5.7.1", "no", {"X-A: b"}),
         false, "550 5.7.1 no"},
        {"prepend not a header", make(Action::none, 0, "", "", {"no colon"}), false, "DUNNO"},
        {"prepend with newline", make(Action::none, 0, "", "", {"X-A: b\nX-B: c"}), false,
         "DUNNO"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(reply_for(c.v, c.standalone), c.want);
    }
}

TEST(PolicyReply, ShadowIsNotEnforced) {
    auto v = make(Action::reject, 550, "5.7.1", "would reject");
    v.shadow = true;
    EXPECT_EQ(reply_for(v, false), "DUNNO");
    EXPECT_EQ(reply_for(v, true), "OK");
}

TEST(PolicyReply, DroppedPrepends) {
    auto v = make(Action::none, 0, "", "", {"X-A: 1", "X-B: 2", "X-C: 3"});
    EXPECT_EQ(mpp::policy::dropped_prepends(v, false), 2u);
    EXPECT_EQ(mpp::policy::dropped_prepends(v, true), 3u);
    EXPECT_EQ(mpp::policy::dropped_prepends(make(Action::none), false), 0u);
}

// The lines of a multi-line template go on one line: the policy protocol has one.
TEST(PolicyReply, MultiLineTextOnOneLine) {
    Verdict v;
    v.action = Action::reject;
    v.text = "Refused by default: spam trap.\nSee https://example.net/trap";
    EXPECT_EQ(reply_for(v, false),
              "550 5.7.1 Refused by default: spam trap. See https://example.net/trap");
}
