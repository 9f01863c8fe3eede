// t/policy/checks_test.cc: the daemon's assembly of engine and greylist: decisions reach the
// state directory through close(), and a new instance on the same directory remembers them.
#include "policy/checks.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "t/policy/policy_test_util.h"

namespace {

using mpp::policy::Action;
using mpp::policy::Checks;
using mpp::policy::test::load;
using mpp::policy::test::tx;

const char* kGrey = R"X(<group name="default"><greylist delay="1h"/></group>)X";

TEST(Checks, GreylistSurvivesANewInstanceOnTheSameStateDir) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mpp-checks-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    const auto t = tx("192.0.2.5", "a@sender.example", "u@example.com");
    {
        Checks checks(load(kGrey), tmpl);
        auto v = checks.evaluate(t);
        EXPECT_EQ(v.action, Action::greylist);
        EXPECT_NE(v.reason.find("new"), std::string::npos) << v.reason;
        checks.close();
        checks.close();  // idempotent
    }
    {
        Checks checks(load(kGrey), tmpl);
        auto v = checks.evaluate(t);
        EXPECT_EQ(v.action, Action::greylist);
        EXPECT_EQ(v.reason.find("new"), std::string::npos)
            << "the triplet is remembered, not new: " << v.reason;
    }
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
