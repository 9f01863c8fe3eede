// t/policy/spamtrap_test.cc: policy/spamtrap and policy/blocklist: trap matching (case,
// exempt lists, file order), blocks per group or global, block-for expiry on the steady clock,
// extension, bounded size with eviction, and the admin rows.
#include "policy/spamtrap.h"

#include <gtest/gtest.h>

#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::load;
using mpp::policy::test::tx;
using std::chrono::hours;
using std::chrono::seconds;

namespace {

const char* kTraps = R"X(
  <list name="relays" type="cidr">192.0.2.0/24</list>
  <group name="g">
    <match recipient-domain="example.com"/>
    <spamtrap pattern="^[0-9]{5,}@example\.com$" scope="group" block-for="1h" exempt="relays"/>
    <spamtrap pattern="^trap@" scope="global" block-for="1d"/>
  </group>
)X";

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

struct TrapCase {
    const char* client;
    const char* rcpt;
    int trap;  // -1: none
    const char* exempted;
};

TEST(Spamtrap, MatchingExemptAndOrder) {
    auto cfg = load(kTraps);
    const auto& g = cfg->groups.front();
    const TrapCase cases[] = {
        {"198.51.100.1", "12345@example.com", 0, ""},
        {"198.51.100.1", "<12345@EXAMPLE.COM>", 0, ""},
        {"198.51.100.1", "1234@example.com", -1, ""},
        {"192.0.2.1", "12345@example.com", -1, "relays(client)"},  // the relay-host case
        {"::ffff:192.0.2.1", "12345@example.com", -1, "relays(client)"},
        {"192.0.2.1", "Trap@example.com", 1, ""},  // the second trap has no exempt list
        {"198.51.100.1", "user@example.com", -1, ""},
    };
    for (const auto& c : cases) {
        TrapCheck r = check_spamtraps(*cfg, g, tx(c.client, "s@x.example", c.rcpt));
        EXPECT_EQ(r.hit ? static_cast<int>(r.hit->index) : -1, c.trap) << c.client << " " << c.rcpt;
        EXPECT_EQ(r.exempted, c.exempted) << c.client << " " << c.rcpt;
    }
}

TEST(Spamtrap, SpringBlocksInScopeForBlockFor) {
    auto cfg = load(kTraps);
    const auto& g = cfg->groups.front();
    FakeClock clock;
    Blocklist blocks(clock);
    auto t = tx("198.51.100.1", "s@x.example", "12345@example.com");
    spring_trap(blocks, g.spamtraps[0], g, t);
    auto hit = blocks.find(ip("198.51.100.1"), "g");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->scope, "g");
    EXPECT_EQ(hit->source, BlockSource::spamtrap);
    EXPECT_EQ(hit->reason, "spam trap 12345@example.com");
    EXPECT_EQ(hit->left, hours(1));
    EXPECT_FALSE(blocks.find(ip("198.51.100.1"), "other"));  // group scope
    EXPECT_TRUE(blocks.find(ip("::ffff:198.51.100.1"), "g"));  // mapped form is the same key
    EXPECT_FALSE(blocks.find(ip("198.51.100.2"), "g"));
    clock.advance(hours(1) - seconds(1));
    EXPECT_TRUE(blocks.find(ip("198.51.100.1"), "g"));
    clock.advance(seconds(1));
    EXPECT_FALSE(blocks.find(ip("198.51.100.1"), "g"));  // expired at exactly block-for
    EXPECT_TRUE(blocks.list().empty());

    spring_trap(blocks, g.spamtraps[1], g, tx("198.51.100.9", "", "trap@example.com"));
    auto global = blocks.find(ip("198.51.100.9"), "any-group");
    ASSERT_TRUE(global);
    EXPECT_EQ(global->scope, "");
    EXPECT_EQ(global->left, hours(24));
}

TEST(Blocklist, ExtendsNeverShortens) {
    FakeClock clock;
    Blocklist blocks(clock);
    blocks.add(ip("192.0.2.1"), "", hours(2), BlockSource::admin, "a");
    blocks.add(ip("192.0.2.1"), "", hours(1), BlockSource::spamtrap, "b");
    EXPECT_EQ(blocks.find(ip("192.0.2.1"), "g")->left, hours(2));
    EXPECT_EQ(blocks.find(ip("192.0.2.1"), "g")->reason, "a");
    blocks.add(ip("192.0.2.1"), "", hours(3), BlockSource::spamtrap, "c");
    EXPECT_EQ(blocks.find(ip("192.0.2.1"), "g")->left, hours(3));
    blocks.add(ip("192.0.2.2"), "", seconds(0), BlockSource::spamtrap, "zero");
    EXPECT_FALSE(blocks.find(ip("192.0.2.2"), "g"));
}

TEST(Blocklist, BoundedEvictsSoonestExpiring) {
    FakeClock clock;
    Blocklist blocks(clock, 3);
    blocks.add(ip("192.0.2.1"), "", hours(5), BlockSource::admin, "");
    blocks.add(ip("192.0.2.2"), "", hours(1), BlockSource::admin, "");
    blocks.add(ip("192.0.2.3"), "", hours(3), BlockSource::admin, "");
    EXPECT_EQ(blocks.size(), 3u);
    blocks.add(ip("192.0.2.4"), "", hours(4), BlockSource::admin, "");
    EXPECT_EQ(blocks.size(), 3u);
    EXPECT_FALSE(blocks.find(ip("192.0.2.2"), "g"));
    EXPECT_TRUE(blocks.find(ip("192.0.2.1"), "g"));
    EXPECT_TRUE(blocks.find(ip("192.0.2.4"), "g"));
    // Expired entries go first, without eviction of live ones.
    clock.advance(hours(3));
    blocks.add(ip("192.0.2.5"), "", hours(1), BlockSource::admin, "");
    EXPECT_TRUE(blocks.find(ip("192.0.2.1"), "g"));
    EXPECT_TRUE(blocks.find(ip("192.0.2.4"), "g"));
    EXPECT_TRUE(blocks.find(ip("192.0.2.5"), "g"));
}

TEST(Blocklist, AdminRowsAndRemove) {
    FakeClock clock;
    Blocklist blocks(clock);
    blocks.add(ip("2001:db8::1"), "g", hours(1), BlockSource::spamtrap, "spam trap t@x");
    blocks.add(ip("2001:db8::1"), "", hours(2), BlockSource::admin, "added by mppctl");
    blocks.add(ip("192.0.2.1"), "g", hours(1), BlockSource::admin, "");
    auto rows = blocks.list();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].scope, "");
    EXPECT_EQ(rows[0].client.str(), "2001:db8::1");
    EXPECT_EQ(rows[0].left, hours(2));
    EXPECT_EQ(rows[0].until_wall, clock.wall() + hours(2));
    EXPECT_EQ(rows[1].scope, "g");
    EXPECT_EQ(blocks.remove(ip("2001:db8::1"), std::string("g")), 1u);
    EXPECT_TRUE(blocks.find(ip("2001:db8::1"), "g"));  // the global one is still there
    EXPECT_EQ(blocks.remove(ip("2001:db8::1"), std::nullopt), 1u);
    EXPECT_FALSE(blocks.find(ip("2001:db8::1"), "g"));
    EXPECT_EQ(blocks.remove(ip("2001:db8::1"), std::nullopt), 0u);
    EXPECT_EQ(blocks.size(), 1u);
}

}  // namespace
