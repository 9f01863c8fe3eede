// t/policy/lists_test.cc: policy/lists: cidr, address, domain and regex lists against clients,
// senders and recipients; case-insensitivity; IPv4-mapped clients; exempt semantics.
#include "policy/lists.h"

#include <gtest/gtest.h>

#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::load;
using mpp::policy::test::tx;

namespace {

const char* kLists = R"X(
  <list name="relays" type="cidr">192.0.2.0/24 2001:db8::/32</list>
  <list name="vips" type="address">boss@example.com *@vip.example.net</list>
  <list name="partners" type="domain">partner.example *.corp.example</list>
  <list name="numeric" type="regex">^[0-9]+@example\.com$</list>
)X";

const config::ListCfg& list(const config::Config& cfg, const std::string& name) {
    for (const auto& l : cfg.lists)
        if (l.name == name) return l;
    ADD_FAILURE() << "no list " << name;
    static config::ListCfg none;
    return none;
}

struct ClientCase {
    const char* client;
    bool in;
};

TEST(Lists, CidrMatchesClientsIncludingV4Mapped) {
    auto cfg = load(kLists);
    const auto& relays = list(*cfg, "relays");
    for (auto c : {ClientCase{"192.0.2.1", true}, ClientCase{"::ffff:192.0.2.77", true},
                   ClientCase{"192.0.3.1", false}, ClientCase{"2001:db8::5", true},
                   ClientCase{"2001:db9::5", false}, ClientCase{"unknown", false}})
        EXPECT_EQ(list_matches_client(relays, IpAddr::parse(c.client)), c.in) << c.client;
    // A cidr list never matches an address, an address list never a client.
    EXPECT_FALSE(list_matches_address(relays, parse_address("a@192.0.2.1"), {}));
    EXPECT_FALSE(list_matches_client(list(*cfg, "vips"), IpAddr::parse("192.0.2.1")));
}

struct AddrCase {
    const char* list;
    const char* address;
    bool in;
};

TEST(Lists, AddressDomainRegexCaseInsensitive) {
    auto cfg = load(kLists);
    const AddrCase cases[] = {
        {"vips", "boss@example.com", true},
        {"vips", "BOSS@Example.COM", true},
        {"vips", "<boss@example.com>", true},
        {"vips", "other@example.com", false},
        {"vips", "anyone@VIP.example.net", true},
        {"vips", "", false},  // the null sender
        {"partners", "x@partner.example", true},
        {"partners", "x@PARTNER.EXAMPLE", true},
        {"partners", "x@sub.partner.example", false},  // exact domain only
        {"partners", "x@a.corp.example", true},
        {"partners", "x@a.b.CORP.example", true},
        {"partners", "x@corp.example", false},  // *.domain: subdomains only
        {"numeric", "12345@example.com", true},
        {"numeric", "12345@EXAMPLE.com", true},
        {"numeric", "abc@example.com", false},
        {"numeric", "not an address", false},
    };
    MatchLimits limits = match_limits(*cfg);
    for (const auto& c : cases)
        EXPECT_EQ(list_matches_address(list(*cfg, c.list), parse_address(c.address), limits),
                  c.in)
            << c.list << " " << c.address;
}

TEST(Lists, DomainMatchers) {
    auto cfg = load(kLists);
    MatchLimits limits = match_limits(*cfg);
    EXPECT_TRUE(list_matches_domain(list(*cfg, "partners"), "Partner.Example.", limits));
    EXPECT_FALSE(list_matches_domain(list(*cfg, "partners"), "", limits));
    EXPECT_TRUE(list_matches_domain(list(*cfg, "vips"), "vip.example.net", limits));
    EXPECT_FALSE(list_matches_domain(list(*cfg, "vips"), "example.com", limits));  // one address
    EXPECT_FALSE(list_matches_domain(list(*cfg, "numeric"), "example.com", limits));
}

struct ExemptCase {
    const char* lists;
    const char* client;
    const char* sender;
    const char* rcpt;
    bool exempt;
    const char* which;
};

TEST(Lists, ExemptMatchesClientSenderOrRecipient) {
    const ExemptCase cases[] = {
        {"relays", "192.0.2.9", "a@b.example", "c@d.example", true, "relays(client)"},
        {"relays", "198.51.100.1", "a@b.example", "c@d.example", false, ""},
        {"vips", "198.51.100.1", "Boss@Example.com", "c@d.example", true, "vips(sender)"},
        {"vips", "198.51.100.1", "a@b.example", "boss@EXAMPLE.com", true, "vips(recipient)"},
        {"partners numeric", "198.51.100.1", "a@b.example", "999@example.com", true,
         "numeric(recipient)"},
        {"partners numeric", "198.51.100.1", "", "c@d.example", false, ""},
    };
    for (const auto& c : cases) {
        auto cfg = load(std::string(kLists) + "<group name=\"default\"><spamtrap pattern=\"^x@\" "
                                              "exempt=\"" + c.lists + "\"/></group>");
        ASSERT_EQ(cfg->groups.back().spamtraps.size(), 1u);
        std::string which;
        EXPECT_EQ(exempt(*cfg, cfg->groups.back().spamtraps[0].exempt,
                         tx(c.client, c.sender, c.rcpt), &which),
                  c.exempt)
            << c.lists << " " << c.client << " " << c.sender << " " << c.rcpt;
        EXPECT_EQ(which, c.which);
    }
}

TEST(Lists, MatcherPatternsAndLists) {
    auto cfg = load(std::string(kLists) +
                    R"X(<group name="g"><match sender="@Example.org vips" client="10.0.0.0/8 relays"
                        recipient-domain="partners"/></group>)X");
    const auto& m = cfg->groups.front().matches.at(0);
    EXPECT_TRUE(address_matches(*cfg, m.sender, parse_address("x@EXAMPLE.ORG")));
    EXPECT_TRUE(address_matches(*cfg, m.sender, parse_address("boss@example.com")));
    EXPECT_FALSE(address_matches(*cfg, m.sender, parse_address("x@example.com")));
    EXPECT_TRUE(net_matches(*cfg, m.client, IpAddr::parse("10.1.2.3")));
    EXPECT_TRUE(net_matches(*cfg, m.client, IpAddr::parse("::ffff:192.0.2.3")));
    EXPECT_FALSE(net_matches(*cfg, m.client, IpAddr::parse("11.0.0.1")));
    EXPECT_FALSE(net_matches(*cfg, m.client, std::nullopt));
    EXPECT_TRUE(domain_matches(*cfg, m.recipient_domain, parse_address("u@partner.example")));
    EXPECT_FALSE(domain_matches(*cfg, m.recipient_domain, parse_address("u@other.example")));
}

}  // namespace
