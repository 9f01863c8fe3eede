// t/lib/cidr_test.cc: IP addresses, CIDR networks and sets (lib/cidr.h).
#include "lib/cidr.h"

#include <gtest/gtest.h>

#include <string>

namespace mpp {
namespace {

IpAddr ip(const char* text) {
    auto a = IpAddr::parse(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(IpAddr{});
}

Cidr net(const char* text) {
    std::string err;
    auto c = Cidr::parse(text, &err);
    EXPECT_TRUE(c.has_value()) << text << ": " << err;
    return c.value_or(Cidr{});
}

TEST(IpAddr, ParsesAndPrints) {
    struct C {
        const char* in;
        const char* out;
        bool v4;
    };
    const C cases[] = {
        {"192.0.2.1", "192.0.2.1", true},
        {"0.0.0.0", "0.0.0.0", true},
        {"255.255.255.255", "255.255.255.255", true},
        {"::ffff:192.0.2.1", "192.0.2.1", true},
        {"::FFFF:c000:0201", "192.0.2.1", true},
        {"::", "::", false},
        {"::1", "::1", false},
        {"2001:DB8::1", "2001:db8::1", false},
        {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", false},
        // RFC 5952: a single zero group is not compressed; the longest run wins; first on a tie.
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", false},
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1", false},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", false},
        {"1:0:0:0:0:0:0:0", "1::", false},
        {"0:0:0:0:0:0:0:1", "::1", false},
        {"fe80::0001:0abc", "fe80::1:abc", false},
        // IPv4-compatible (deprecated) and NAT64 forms are plain IPv6.
        {"::192.0.2.1", "::c000:201", false},
        {"64:ff9b::192.0.2.1", "64:ff9b::c000:201", false},
        {"::ffff:0:0", "0.0.0.0", true},
        {"::fffe:0:0", "::fffe:0:0", false},
    };
    for (const auto& c : cases) {
        auto a = IpAddr::parse(c.in);
        ASSERT_TRUE(a.has_value()) << c.in;
        EXPECT_EQ(a->str(), c.out) << c.in;
        EXPECT_EQ(a->is_v4(), c.v4) << c.in;
        // str() parses back to the same address.
        auto b = IpAddr::parse(a->str());
        ASSERT_TRUE(b.has_value()) << a->str();
        EXPECT_EQ(*a, *b) << c.in;
    }
}

TEST(IpAddr, IPv4IsStoredMapped) {
    auto a = ip("192.0.2.1");
    const std::uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    for (int i = 0; i < 16; ++i) EXPECT_EQ(a.bytes[i], want[i]) << i;
    EXPECT_EQ(a, ip("::ffff:192.0.2.1"));
}

TEST(IpAddr, Rejects) {
    const char* cases[] = {
        "",
        "1",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "01.2.3.4",
        "1.2.3.04",
        "1.2.3.00",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.4/32",
        "1..3.4",
        "1.2.3.",
        ".1.2.3",
        "0x1.2.3.4",
        "1.2.3.-4",
        "+1.2.3.4",
        "::1 ",
        "[::1]",
        "fe80::1%eth0",
        ":::",
        "1::2::3",
        "12345::",
        "g::",
        "::ffff:01.2.3.4",
        "::ffff:1.2.3",
        "1:2:3:4:5:6:7:8:9",
        "localhost",
        "::/0",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000",
    };
    for (const char* c : cases) EXPECT_FALSE(IpAddr::parse(c).has_value()) << c;
    EXPECT_FALSE(IpAddr::parse(std::string_view("1.2.3.4\0", 8)).has_value());
    EXPECT_FALSE(IpAddr::parse(std::string(200, '1')).has_value());
}

TEST(IpAddr, Masked) {
    EXPECT_EQ(ip("192.0.2.77").masked(96 + 24), ip("192.0.2.0"));
    EXPECT_EQ(ip("192.0.2.77").masked(96 + 25), ip("192.0.2.0"));
    EXPECT_EQ(ip("192.0.2.200").masked(96 + 25), ip("192.0.2.128"));
    EXPECT_EQ(ip("192.0.2.77").masked(128), ip("192.0.2.77"));
    EXPECT_EQ(ip("192.0.2.77").masked(200), ip("192.0.2.77"));
    EXPECT_EQ(ip("192.0.2.77").masked(96), ip("0.0.0.0"));
    EXPECT_EQ(ip("192.0.2.77").masked(0), ip("::"));
    EXPECT_EQ(ip("2001:db8:abcd:1234::1").masked(64), ip("2001:db8:abcd:1234::"));
    EXPECT_EQ(ip("2001:db8:abcd:1234::1").masked(36), ip("2001:db8:a000::"));
    EXPECT_EQ(ip("ffff:ffff::").masked(1), ip("8000::"));
}

TEST(Cidr, ParsesAndPrints) {
    struct C {
        const char* in;
        const char* out;
        unsigned prefix;
    };
    const C cases[] = {
        {"192.0.2.0/24", "192.0.2.0/24", 120},
        {"192.0.2.1", "192.0.2.1", 128},
        {"192.0.2.1/32", "192.0.2.1", 128},
        {"10.0.0.0/8", "10.0.0.0/8", 104},
        {"0.0.0.0/0", "0.0.0.0/0", 96},
        {"::/0", "::/0", 0},
        {"::1", "::1", 128},
        {"::1/128", "::1", 128},
        {"2001:db8::/32", "2001:db8::/32", 32},
        {"2001:DB8:0:0::/64", "2001:db8::/64", 64},
        {"::ffff:192.0.2.0/120", "192.0.2.0/24", 120},
        {"::ffff:0.0.0.0/96", "0.0.0.0/0", 96},
        {"::ffff:192.0.2.1", "192.0.2.1", 128},
        {"::/96", "::/96", 96},
        {"8000::/1", "8000::/1", 1},
    };
    for (const auto& c : cases) {
        std::string err;
        auto n = Cidr::parse(c.in, &err);
        ASSERT_TRUE(n.has_value()) << c.in << ": " << err;
        EXPECT_EQ(n->str(), c.out) << c.in;
        EXPECT_EQ(n->prefix, c.prefix) << c.in;
        auto back = Cidr::parse(n->str());
        ASSERT_TRUE(back.has_value()) << n->str();
        EXPECT_EQ(*back, *n) << c.in;
    }
}

TEST(Cidr, RejectsWithReason) {
    struct C {
        const char* in;
        const char* error;
    };
    const C cases[] = {
        {"192.0.2.1/24",
         "bad network \"192.0.2.1/24\": host bits set below the /24 mask (did you mean "
         "192.0.2.0/24?)"},
        {"2001:db8::1/32",
         "bad network \"2001:db8::1/32\": host bits set below the /32 mask (did you mean "
         "2001:db8::/32?)"},
        {"192.0.2.0/33", "bad network \"192.0.2.0/33\": prefix length 33 is over 32 for IPv4"},
        {"::/129", "bad network \"::/129\": prefix length 129 is over 128 for IPv6"},
        {"192.0.2.0/", "bad network \"192.0.2.0/\": missing prefix length after '/'"},
        {"/", "bad network \"/\": not an IPv4 or IPv6 address"},
        {"/24", "bad network \"/24\": not an IPv4 or IPv6 address"},
        {"192.0.2.0/-1",
         "bad network \"192.0.2.0/-1\": prefix length must be a number from 0 to 32 without sign "
         "or leading zeros"},
        {"10.0.0.0/08",
         "bad network \"10.0.0.0/08\": prefix length must be a number from 0 to 32 without sign "
         "or leading zeros"},
        {"::/+8",
         "bad network \"::/+8\": prefix length must be a number from 0 to 128 without sign or "
         "leading zeros"},
        {"192.000.2.0/24", "bad network \"192.000.2.0/24\": not an IPv4 or IPv6 address"},
        {"192.0.2.0/24 ",
         "bad network \"192.0.2.0/24 \": prefix length must be a number from 0 to "
         "32 without sign or leading zeros"},
        {"192.0.2.0 /24", "bad network \"192.0.2.0 /24\": not an IPv4 or IPv6 address"},
        {"192.0.2.0/24/8",
         "bad network \"192.0.2.0/24/8\": prefix length must be a number from 0 "
         "to 32 without sign or leading zeros"},
        {"192.0.2.0/1000",
         "bad network \"192.0.2.0/1000\": prefix length must be a number from 0 "
         "to 32 without sign or leading zeros"},
        {"example.com", "bad network \"example.com\": not an IPv4 or IPv6 address"},
        {"", "bad network \"\": not an IPv4 or IPv6 address"},
        {"1.2.3.4\n", "bad network \"1.2.3.4\\x0A\": not an IPv4 or IPv6 address"},
    };
    for (const auto& c : cases) {
        std::string err;
        EXPECT_FALSE(Cidr::parse(c.in, &err).has_value()) << c.in;
        EXPECT_EQ(err, c.error);
    }
    EXPECT_FALSE(Cidr::parse("1.2.3.4/40").has_value());  // no error pointer: no crash
}

TEST(Cidr, Contains) {
    struct C {
        const char* net;
        const char* addr;
        bool in;
    };
    const C cases[] = {
        {"192.0.2.0/24", "192.0.2.0", true},
        {"192.0.2.0/24", "192.0.2.255", true},
        {"192.0.2.0/24", "192.0.3.0", false},
        {"192.0.2.0/24", "192.0.1.255", false},
        {"192.0.2.0/24", "::ffff:192.0.2.9", true},  // mapped client, IPv4 network
        {"::ffff:192.0.2.0/120", "192.0.2.9", true},
        {"192.0.2.0/24", "::c000:209", false},  // IPv4-compatible is not IPv4
        {"192.0.2.0/24", "2001:db8::1", false},
        {"192.0.2.1/32", "192.0.2.1", true},
        {"192.0.2.1/32", "192.0.2.2", false},
        {"0.0.0.0/0", "203.0.113.7", true},
        {"0.0.0.0/0", "0.0.0.0", true},
        {"0.0.0.0/0", "::ffff:1.2.3.4", true},
        {"0.0.0.0/0", "2001:db8::1", false},
        {"0.0.0.0/0", "::", false},
        {"0.0.0.0/0", "::1", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "192.0.2.1", true},
        {"::/0", "::", true},
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"2001:db8::1/128", "2001:db8::1", true},
        {"2001:db8::1/128", "2001:db8::2", false},
        {"2001:db8::/33", "2001:db8:7fff::", true},
        {"2001:db8::/33", "2001:db8:8000::", false},
        {"128.0.0.0/1", "127.255.255.255", false},
        {"128.0.0.0/1", "128.0.0.0", true},
    };
    for (const auto& c : cases)
        EXPECT_EQ(net(c.net).contains(ip(c.addr)), c.in) << c.net << " " << c.addr;
}

TEST(CidrSet, LooksUpAcrossPrefixes) {
    CidrSet set;
    EXPECT_TRUE(set.empty());
    EXPECT_FALSE(set.contains("192.0.2.1"));
    for (const char* n : {"192.0.2.0/24", "198.51.100.7", "10.0.0.0/8", "2001:db8::/32",
                          "2001:db8:1::/48", "fe80::1"})
        set.add(net(n));
    EXPECT_EQ(set.size(), 6u);
    set.add(net("192.0.2.0/24"));  // a duplicate is kept once
    EXPECT_EQ(set.size(), 6u);
    EXPECT_FALSE(set.empty());
    const std::pair<const char*, bool> cases[] = {
        {"192.0.2.44", true},      {"::ffff:192.0.2.44", true},
        {"192.0.3.44", false},     {"198.51.100.7", true},
        {"198.51.100.8", false},   {"10.255.0.1", true},
        {"11.0.0.1", false},       {"2001:db8:5::1", true},
        {"2001:db9::1", false},    {"fe80::1", true},
        {"fe80::2", false},        {"::1", false},
        {"not an address", false}, {"", false},
        {"192.0.2.1/32", false},
    };
    for (const auto& [addr, in] : cases) EXPECT_EQ(set.contains(addr), in) << addr;
}

TEST(CidrSet, ZeroPrefixesPerFamily) {
    CidrSet v4_all;
    v4_all.add(net("0.0.0.0/0"));
    EXPECT_TRUE(v4_all.contains("1.2.3.4"));
    EXPECT_FALSE(v4_all.contains("2001:db8::1"));
    CidrSet all;
    all.add(net("::/0"));
    EXPECT_TRUE(all.contains("1.2.3.4"));
    EXPECT_TRUE(all.contains("2001:db8::1"));
}

TEST(CidrSet, ManyNetworks) {
    CidrSet set;
    for (unsigned i = 0; i < 256; i += 2)
        set.add(net(("10.0." + std::to_string(i) + ".0/24").c_str()));
    EXPECT_EQ(set.size(), 128u);
    for (unsigned i = 0; i < 256; ++i) {
        std::string a = "10.0." + std::to_string(i) + ".1";
        EXPECT_EQ(set.contains(a), i % 2 == 0) << a;
    }
}

}  // namespace
}  // namespace mpp
