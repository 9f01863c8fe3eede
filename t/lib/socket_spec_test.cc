// t/lib/socket_spec_test.cc: milter and listen socket addresses (lib/socket_spec.h).
#include "lib/socket_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace mpp {
namespace {

using Kind = SocketSpec::Kind;

struct Ok {
    std::string in;
    Kind kind;
    const char* host;
    unsigned port;
    std::string path;
    std::string back;  // milter_str() or str()
};

TEST(SocketSpecMilter, Accepts) {
    const std::string path107 = "/" + std::string(106, 'p');
    const Ok cases[] = {
        {"inet:10025", Kind::inet, "", 10025, "", "inet:10025"},
        {"inet:10025@127.0.0.1", Kind::inet, "127.0.0.1", 10025, "", "inet:10025@127.0.0.1"},
        {"inet:1@localhost", Kind::inet, "localhost", 1, "", "inet:1@localhost"},
        {"inet:65535@mx.example.com", Kind::inet, "mx.example.com", 65535, "",
         "inet:65535@mx.example.com"},
        {"inet:010025@127.0.0.1", Kind::inet, "127.0.0.1", 10025, "", "inet:10025@127.0.0.1"},
        {"inet6:10025", Kind::inet6, "", 10025, "", "inet6:10025"},
        {"inet6:10025@::1", Kind::inet6, "::1", 10025, "", "inet6:10025@::1"},
        {"inet6:10025@2001:db8::25", Kind::inet6, "2001:db8::25", 10025, "",
         "inet6:10025@2001:db8::25"},
        {"inet6:10025@localhost", Kind::inet6, "localhost", 10025, "", "inet6:10025@localhost"},
        {"unix:/run/mppd/milter.sock", Kind::unix_path, "", 0, "/run/mppd/milter.sock",
         "unix:/run/mppd/milter.sock"},
        {"local:/run/mppd/milter.sock", Kind::unix_path, "", 0, "/run/mppd/milter.sock",
         "unix:/run/mppd/milter.sock"},
        {"unix:" + path107, Kind::unix_path, "", 0, path107, "unix:" + path107},
    };
    for (const auto& c : cases) {
        std::string err;
        auto s = SocketSpec::parse_milter(c.in, &err);
        ASSERT_TRUE(s.has_value()) << c.in << ": " << err;
        EXPECT_EQ(s->kind, c.kind) << c.in;
        EXPECT_EQ(s->host, c.host) << c.in;
        EXPECT_EQ(s->port, c.port) << c.in;
        EXPECT_EQ(s->path, c.path) << c.in;
        EXPECT_EQ(s->milter_str(), c.back) << c.in;
        auto again = SocketSpec::parse_milter(s->milter_str());
        ASSERT_TRUE(again.has_value()) << s->milter_str();
        EXPECT_EQ(again->milter_str(), c.back);
    }
}

struct Bad {
    std::string in;
    std::string error;
};

TEST(SocketSpecMilter, Rejects) {
    const std::string m = "bad milter socket ";
    const std::string path108 = "/" + std::string(107, 'p');
    const Bad cases[] = {
        {"", m + "\"\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path"},
        {"10025", m + "\"10025\": expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path"},
        {"/run/m.sock", m + "\"/run/m.sock\": write unix:/run/m.sock"},
        {"inet:0", m + "\"inet:0\": port \"0\" is out of range 1..65535"},
        {"inet:65536", m + "\"inet:65536\": port \"65536\" is out of range 1..65535"},
        {"inet:99999@127.0.0.1",
         m + "\"inet:99999@127.0.0.1\": port \"99999\" is out of range 1..65535"},
        {"inet:100000", m + "\"inet:100000\": port \"100000\" is out of range 1..65535"},
        {"inet:99999999999999999999",
         m + "\"inet:99999999999999999999\": port \"99999999999999999999\" is out of range "
             "1..65535"},
        {"inet:0000", m + "\"inet:0000\": port \"0000\" is out of range 1..65535"},
        {"inet:smtp", m + "\"inet:smtp\": port \"smtp\" is not a number from 1 to 65535"},
        {"inet:-1", m + "\"inet:-1\": port \"-1\" is not a number from 1 to 65535"},
        {"inet:+25", m + "\"inet:+25\": port \"+25\" is not a number from 1 to 65535"},
        {"inet: 25", m + "\"inet: 25\": port \" 25\" is not a number from 1 to 65535"},
        {"inet:", m + "\"inet:\": missing port"},
        {"inet:@127.0.0.1", m + "\"inet:@127.0.0.1\": missing port"},
        {"inet:10025@", m + "\"inet:10025@\": missing host after '@'"},
        {"inet:10025@::1", m + "\"inet:10025@::1\": an IPv6 address needs inet6:PORT@HOST"},
        {"inet:10025@1.2.3", m + "\"inet:10025@1.2.3\": host \"1.2.3\" is not an IPv4 address or a "
                                 "host name"},
        {"inet:10025@bad host", m + "\"inet:10025@bad host\": host \"bad host\" is not an IPv4 "
                                    "address or a host name"},
        {"inet6:10025@[::1]", m + "\"inet6:10025@[::1]\": host \"[::1]\" is not an IPv6 address "
                                  "(without brackets) or a host name"},
        {"inet6:10025@", m + "\"inet6:10025@\": missing host after '@'"},
        {"unix:run/m.sock",
         m + "\"unix:run/m.sock\": socket path must be absolute (start with '/')"},
        {"local:m.sock", m + "\"local:m.sock\": socket path must be absolute (start with '/')"},
        {"unix:", m + "\"unix:\": missing socket path"},
        {"unix:" + path108, m + "\"unix:" + path108 + "\": socket path is longer than 107 bytes"},
        {std::string("unix:/a\0b", 9), m + "\"unix:/a\\x00b\": socket path contains a NUL byte"},
        {"INET:10025", m + "\"INET:10025\": unknown socket type \"INET\" (expected inet, inet6, "
                           "unix or local)"},
        {"tcp:10025", m + "\"tcp:10025\": unknown socket type \"tcp\" (expected inet, inet6, unix "
                          "or local)"},
    };
    for (const auto& c : cases) {
        std::string err;
        EXPECT_FALSE(SocketSpec::parse_milter(c.in, &err).has_value()) << c.in;
        EXPECT_EQ(err, c.error);
    }
    EXPECT_FALSE(SocketSpec::parse_milter("inet:0").has_value());  // no error pointer: no crash
}

TEST(SocketSpecListen, Accepts) {
    const Ok cases[] = {
        {"127.0.0.1:10031", Kind::inet, "127.0.0.1", 10031, "", "127.0.0.1:10031"},
        {"localhost:10031", Kind::inet, "localhost", 10031, "", "localhost:10031"},
        {"*:10031", Kind::inet, "", 10031, "", "*:10031"},
        {"[::1]:10031", Kind::inet6, "::1", 10031, "", "[::1]:10031"},
        {"[::]:1", Kind::inet6, "::", 1, "", "[::]:1"},
        {"[2001:db8::1]:65535", Kind::inet6, "2001:db8::1", 65535, "", "[2001:db8::1]:65535"},
        {"unix:/run/mppd/policy.sock", Kind::unix_path, "", 0, "/run/mppd/policy.sock",
         "unix:/run/mppd/policy.sock"},
    };
    for (const auto& c : cases) {
        std::string err;
        auto s = SocketSpec::parse_listen(c.in, &err);
        ASSERT_TRUE(s.has_value()) << c.in << ": " << err;
        EXPECT_EQ(s->kind, c.kind) << c.in;
        EXPECT_EQ(s->host, c.host) << c.in;
        EXPECT_EQ(s->port, c.port) << c.in;
        EXPECT_EQ(s->path, c.path) << c.in;
        EXPECT_EQ(s->str(), c.back) << c.in;
        auto again = SocketSpec::parse_listen(s->str());
        ASSERT_TRUE(again.has_value()) << s->str();
        EXPECT_EQ(again->str(), c.back);
    }
}

TEST(SocketSpecListen, Rejects) {
    const std::string l = "bad listen address ";
    const Bad cases[] = {
        {"", l + "\"\": expected HOST:PORT, [IPV6]:PORT or unix:/path"},
        {"10031", l + "\"10031\": expected HOST:PORT, [IPV6]:PORT or unix:/path"},
        {":10031", l + "\":10031\": missing host before the port (write *:PORT for every address)"},
        {"127.0.0.1:", l + "\"127.0.0.1:\": missing port"},
        {"127.0.0.1:0", l + "\"127.0.0.1:0\": port \"0\" is out of range 1..65535"},
        {"127.0.0.1:70000", l + "\"127.0.0.1:70000\": port \"70000\" is out of range 1..65535"},
        {"127.0.0.1:x", l + "\"127.0.0.1:x\": port \"x\" is not a number from 1 to 65535"},
        {"::1:10031", l + "\"::1:10031\": an IPv6 address needs brackets: [ADDRESS]:PORT"},
        {"[::1:10031", l + "\"[::1:10031\": missing ']' after the IPv6 address"},
        {"[::1]", l + "\"[::1]\": expected [IPV6]:PORT"},
        {"[::1]10031", l + "\"[::1]10031\": expected [IPV6]:PORT"},
        {"[]:10031", l + "\"[]:10031\": not an IPv6 address between the brackets"},
        {"[127.0.0.1]:10031",
         l + "\"[127.0.0.1]:10031\": not an IPv6 address between the brackets"},
        {"300.1.1.1:10031", l + "\"300.1.1.1:10031\": host \"300.1.1.1\" is not an IPv4 address or "
                                "a host name"},
        {"unix:policy.sock", l + "\"unix:policy.sock\": socket path must be absolute (start with "
                                 "'/')"},
        {"inet:127.0.0.1:10031",
         l + "\"inet:127.0.0.1:10031\": no type prefix here: write 127.0.0.1:10031"},
        {"inet6:[::1]:10031", l + "\"inet6:[::1]:10031\": no type prefix here: write [::1]:10031"},
        {"a:b:10031", l + "\"a:b:10031\": host \"a:b\" is not an IPv4 address or a host name"},
    };
    for (const auto& c : cases) {
        std::string err;
        EXPECT_FALSE(SocketSpec::parse_listen(c.in, &err).has_value()) << c.in;
        EXPECT_EQ(err, c.error);
    }
}

TEST(SocketSpec, StrOfMilterSpecs) {
    // A milter spec printed in listen form (for log lines).
    auto a = SocketSpec::parse_milter("inet:10025@127.0.0.1");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->str(), "127.0.0.1:10025");
    auto b = SocketSpec::parse_milter("inet6:10025");
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->str(), "[::]:10025");
    auto c = SocketSpec::parse_milter("inet:10025");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->str(), "*:10025");
}

}  // namespace
}  // namespace mpp
