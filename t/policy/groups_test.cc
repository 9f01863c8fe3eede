// t/policy/groups_test.cc: policy/groups: direction from internal networks and SASL, rule
// matching (AND of attributes, OR of entries), and one group per recipient in file order.
#include "policy/groups.h"

#include <gtest/gtest.h>

#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::load;
using mpp::policy::test::tx;
using config::Direction;

namespace {

struct DirCase {
    const char* networks;
    const char* client;
    const char* sasl;
    Direction want;
};

TEST(Groups, Direction) {
    const DirCase cases[] = {
        {R"(<networks internal="10.0.0.0/8"/>)", "10.1.1.1", "", Direction::outbound},
        {R"(<networks internal="10.0.0.0/8"/>)", "::ffff:10.1.1.1", "", Direction::outbound},
        {R"(<networks internal="10.0.0.0/8"/>)", "192.0.2.1", "", Direction::inbound},
        {R"(<networks internal="10.0.0.0/8"/>)", "192.0.2.1", "alice", Direction::outbound},
        {R"(<networks internal="10.0.0.0/8" authenticated-outbound="no"/>)", "192.0.2.1",
         "alice", Direction::inbound},
        {R"(<list name="ours" type="cidr">2001:db8::/32</list><networks internal="ours"/>)",
         "2001:db8::1", "", Direction::outbound},
        {"", "127.0.0.1", "", Direction::outbound},  // default internal networks
        {"", "unknown", "", Direction::inbound},
    };
    for (const auto& c : cases) {
        auto cfg = load(c.networks);
        EXPECT_EQ(direction_of(*cfg, tx(c.client, "a@b.example", "c@d.example", c.sasl)), c.want)
            << c.networks << " " << c.client << " " << c.sasl;
    }
}

const char* kGroups = R"X(
  <networks internal="10.0.0.0/8"/>
  <list name="vipdomains" type="domain">vip.example</list>
  <group name="vip">
    <match recipient-domain="vipdomains"/>
  </group>
  <group name="outbound-sales">
    <match direction="outbound" sender-domain="sales.example"/>
  </group>
  <group name="default"/>
  <group name="auth">
    <match sasl="yes" recipient="*@partner.example"/>
    <match client="198.51.100.0/24"/>
  </group>
)X";

struct GroupCase {
    const char* client;
    const char* sender;
    const char* rcpt;
    const char* sasl;
    const char* group;
};

TEST(Groups, FirstMatchInFileOrderDefaultLast) {
    auto cfg = load(kGroups);
    const GroupCase cases[] = {
        {"192.0.2.1", "a@x.example", "u@VIP.example", "", "vip"},
        // vip comes first in the file: an outbound sales mail to vip is vip.
        {"10.0.0.1", "a@sales.example", "u@vip.example", "", "vip"},
        {"10.0.0.1", "a@Sales.Example", "u@other.example", "", "outbound-sales"},
        // same sender, inbound: direction does not match.
        {"192.0.2.1", "a@sales.example", "u@other.example", "", "default"},
        // "default" in the middle of the file still comes last.
        {"192.0.2.1", "a@x.example", "u@partner.example", "bob", "auth"},
        {"192.0.2.1", "a@x.example", "u@partner.example", "", "default"},
        {"198.51.100.7", "", "u@other.example", "", "auth"},
        {"unknown", "", "u@other.example", "", "default"},
    };
    for (const auto& c : cases) {
        auto t = tx(c.client, c.sender, c.rcpt, c.sasl);
        EXPECT_EQ(resolve_group(*cfg, t, direction_of(*cfg, t)).name, c.group)
            << c.client << " " << c.sender << " " << c.rcpt << " " << c.sasl;
    }
}

TEST(Groups, PerRecipientIndependence) {
    auto cfg = load(kGroups);
    auto t = tx("192.0.2.1", "a@x.example", "u@vip.example");
    EXPECT_EQ(resolve_group(*cfg, t, Direction::inbound).name, "vip");
    t.recipient = "u@plain.example";
    EXPECT_EQ(resolve_group(*cfg, t, Direction::inbound).name, "default");
}

TEST(Groups, NoDefaultInFileGivesImpliedDefault) {
    auto cfg = load(R"(<group name="g"><match recipient="a@b.example"/></group>)");
    auto t = tx("192.0.2.1", "", "x@y.example");
    EXPECT_EQ(resolve_group(*cfg, t, Direction::inbound).name, "default");
    EXPECT_EQ(first_match(*cfg, cfg->groups.front().matches, tx("192.0.2.1", "", "A@B.example"),
                          Direction::inbound),
              0);
}

TEST(Groups, EmptyRuleMatchesAllAndAttributesAreAnded) {
    auto cfg = load(R"(<group name="g"><match/></group><group name="default">
        <deny sender="spam@x.example" client="192.0.2.0/24"/></group>)");
    auto t = tx("203.0.113.1", "", "x@y.example");
    EXPECT_EQ(resolve_group(*cfg, t, Direction::inbound).name, "g");
    const auto& deny = cfg->groups.back().deny.at(0);
    EXPECT_TRUE(rule_matches(*cfg, deny, tx("192.0.2.5", "spam@x.example", "r@y"),
                             Direction::inbound));
    EXPECT_FALSE(rule_matches(*cfg, deny, tx("192.0.3.5", "spam@x.example", "r@y"),
                              Direction::inbound));
    EXPECT_FALSE(rule_matches(*cfg, deny, tx("192.0.2.5", "ham@x.example", "r@y"),
                              Direction::inbound));
}

}  // namespace
