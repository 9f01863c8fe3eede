// t/policy/verdict_test.cc: verdict action names, as log lines and mppctl print them.
#include "policy/verdict.h"

#include <gtest/gtest.h>

TEST(Verdict, ActionNames) {
    using mpp::policy::Action;
    EXPECT_EQ(mpp::policy::action_name(Action::none), "none");
    EXPECT_EQ(mpp::policy::action_name(Action::accept), "accept");
    EXPECT_EQ(mpp::policy::action_name(Action::greylist), "greylist");
    EXPECT_EQ(mpp::policy::action_name(Action::defer), "defer");
    EXPECT_EQ(mpp::policy::action_name(Action::reject), "reject");
}
