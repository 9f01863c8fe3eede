// t/milter/policy_verbs_test.cc: the greylist, blacklist, thresholds, shadow and explain verbs
// over a real policy::Checks (config from a string, greylist persisted in a fresh state dir):
// argument parsing (every bad argument is ERR with the usage), output lines, bounds, and that
// the verbs edit (or, for explain, do not edit) the tables the checks use.
#include "milter/policy_verbs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "lib/config.h"
#include "t/policy/policy_test_util.h"

namespace mpp::milter {
namespace {

const char* kConfig = R"X(
  <group name="grey">
    <match recipient-domain="grey.example"/>
    <greylist delay="5m"/>
  </group>
  <group name="default">
    <threshold name="rate" messages="100" period="1h" block-for="1h"/>
  </group>
)X";

using policy::test::load;

// A fresh state directory, removed with its contents.
struct TempDir {
    std::string path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mpp-pv-XXXXXX").string();
        path = ::mkdtemp(tmpl.data()) ? tmpl : "";
    }
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

// A RCPT question; `instance` makes each call its own message for the thresholds.
policy::Transaction tx(const std::string& client, const std::string& from, const std::string& rcpt,
                       const std::string& instance) {
    return policy::test::tx(client, from, rcpt, "", instance);
}

struct PolicyVerbsTest : ::testing::Test {
    TempDir dir;
    policy::Checks checks{load(kConfig), dir.path};
    std::map<std::string, ControlServer::Handler> verbs;

    PolicyVerbsTest() {
        for (auto& v : policy_verbs(checks)) verbs[v.verb] = v.handler;
    }
    control::Response call(const std::string& verb, std::vector<std::string> args = {}) {
        return verbs.at(verb)(control::Request{verb, std::move(args)});
    }
    static void expect_usage(const control::Response& r, const std::string& verb) {
        EXPECT_FALSE(r.ok) << r.status_text;
        EXPECT_NE(r.status_text.find("usage: " + verb), std::string::npos) << r.status_text;
    }
};

TEST_F(PolicyVerbsTest, RegistersEveryVerbWithAUsageLine) {
    for (const char* v : {"greylist", "blacklist", "thresholds", "shadow", "explain"})
        EXPECT_EQ(verbs.count(v), 1u) << v;
    for (auto& v : policy_verbs(checks)) EXPECT_EQ(v.usage.rfind(v.verb, 0), 0u) << v.usage;
}

TEST_F(PolicyVerbsTest, GreylistListShowKeyDeleteFlush) {
    auto v = checks.evaluate(tx("198.51.100.7", "a@sender.example", "u@grey.example", "m1"));
    ASSERT_EQ(v.action, policy::Action::greylist);

    auto list = call("greylist", {"list"});
    ASSERT_TRUE(list.ok) << list.status_text;
    ASSERT_EQ(list.lines.size(), 1u);
    EXPECT_EQ(list.status_text, "1 of 1 entries");
    const std::regex row(
        "([0-9a-f]{32}) triplet waiting (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ) \\2 "
        "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ 0");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(list.lines[0], m, row)) << list.lines[0];
    const std::string key = m[1];

    // The key of the triplet, as an admin computes it (sender case and +extension normalised).
    auto k = call("greylist", {"key", "198.51.100.9", "<A+tag@Sender.example>", "u@grey.example"});
    ASSERT_TRUE(k.ok) << k.status_text;
    EXPECT_EQ(k.status_text, "group grey");
    ASSERT_EQ(k.lines, std::vector<std::string>{key});
    auto other = call("greylist", {"key", "198.51.100.9", "b@sender.example", "u@grey.example"});
    ASSERT_EQ(other.lines.size(), 1u);
    EXPECT_NE(other.lines[0], key);

    auto show = call("greylist", {"show", key});
    ASSERT_TRUE(show.ok);
    EXPECT_EQ(show.lines, list.lines);
    EXPECT_FALSE(call("greylist", {"show", other.lines[0]}).ok);

    auto del = call("greylist", {"delete", key});
    EXPECT_TRUE(del.ok) << del.status_text;
    EXPECT_EQ(checks.greylist().size(), 0u);
    auto again = call("greylist", {"delete", key});
    EXPECT_FALSE(again.ok);
    EXPECT_EQ(again.status_text, "no greylist entry " + key);

    checks.evaluate(tx("198.51.100.7", "a@sender.example", "u@grey.example", "m2"));
    checks.evaluate(tx("203.0.113.7", "a@sender.example", "u@grey.example", "m3"));
    EXPECT_EQ(call("greylist", {"list", "1"}).lines.size(), 1u);
    EXPECT_EQ(call("greylist", {"list", "1"}).status_text, "1 of 2 entries");
    auto flush = call("greylist", {"flush"});
    EXPECT_TRUE(flush.ok);
    EXPECT_EQ(flush.status_text, "flushed 2 entries");
    EXPECT_TRUE(call("greylist", {"list"}).lines.empty());
}

TEST_F(PolicyVerbsTest, GreylistBadArgumentsGetUsage) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{}, {"lst"}, {"list", "0"}, {"list", "x"}, {"list", "100001"},
          {"list", "1", "2"}, {"show"}, {"show", "zz"}, {"delete", "net:999.1.1.1x"}, {"flush", "now"},
          {"key", "not-an-ip", "a@b", "c@d"}, {"key", "192.0.2.1", "a@b"}})
        expect_usage(call("greylist", args), "greylist");
}

TEST_F(PolicyVerbsTest, BlacklistAddRefusesDeleteLifts) {
    auto t = tx("192.0.2.50", "a@sender.example", "u@other.example", "m1");
    ASSERT_EQ(checks.evaluate(t).action, policy::Action::none);

    auto add = call("blacklist", {"add", "192.0.2.50"});
    ASSERT_TRUE(add.ok) << add.status_text;
    EXPECT_EQ(add.status_text, "blocked 192.0.2.50 globally for 1d");
    t.instance = "m2";
    auto v = checks.evaluate(t);
    EXPECT_EQ(v.action, policy::Action::reject);
    EXPECT_EQ(v.code, 550);

    auto list = call("blacklist", {"list"});
    ASSERT_EQ(list.lines.size(), 1u);
    EXPECT_TRUE(std::regex_match(
        list.lines[0], std::regex("192\\.0\\.2\\.50 global admin until=\\d{4}-\\d\\d-\\d\\dT"
                                  "\\d\\d:\\d\\d:\\d\\dZ left=(1d|23h|86399s) reason=\"added by mppctl\"")))
        << list.lines[0];

    auto del = call("blacklist", {"delete", "192.0.2.50"});
    EXPECT_TRUE(del.ok) << del.status_text;
    t.instance = "m3";
    EXPECT_EQ(checks.evaluate(t).action, policy::Action::none);
    EXPECT_FALSE(call("blacklist", {"delete", "192.0.2.50"}).ok);

    // Scoped to a group: only that group refuses; delete names the scope.
    ASSERT_TRUE(call("blacklist", {"add", "192.0.2.51", "2h", "grey"}).ok);
    auto l2 = call("blacklist", {"list"});
    ASSERT_EQ(l2.lines.size(), 1u);
    EXPECT_NE(l2.lines[0].find(" group=grey admin "), std::string::npos) << l2.lines[0];
    EXPECT_NE(l2.lines[0].find(" left=2h "), std::string::npos) << l2.lines[0];
    EXPECT_FALSE(call("blacklist", {"delete", "192.0.2.51", ""}).ok);  // not blocked globally
    EXPECT_TRUE(call("blacklist", {"delete", "192.0.2.51", "grey"}).ok);
    EXPECT_EQ(checks.state().blocks.size(), 0u);
}

TEST_F(PolicyVerbsTest, BlacklistBadArgumentsGetUsage) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{}, {"ad"}, {"add"}, {"add", "192.0.2.300"}, {"add", "192.0.2.1", "10"},
          {"add", "192.0.2.1", "0s"}, {"add", "192.0.2.1", "366d"}, {"add", "192.0.2.1", "1d", "nogroup"},
          {"add", "192.0.2.1", "1d", "grey", "x"}, {"delete"}, {"delete", "192.0.2.1", "nogroup"},
          {"list", "-1"}})
        expect_usage(call("blacklist", args), "blacklist");
    EXPECT_EQ(checks.state().blocks.size(), 0u);
}

TEST_F(PolicyVerbsTest, ThresholdsTopFirstAndBounded) {
    for (int i = 0; i < 3; ++i)
        checks.evaluate(tx("198.51.100.1", "a@x.example", "u@other.example", "a" + std::to_string(i)));
    checks.evaluate(tx("198.51.100.2", "a@x.example", "u@other.example", "b0"));
    auto r = call("thresholds");
    ASSERT_TRUE(r.ok) << r.status_text;
    ASSERT_EQ(r.lines.size(), 2u);
    EXPECT_EQ(r.lines[0], "default/rate 198.51.100.1 messages=3 spams=0 blocked=no");
    EXPECT_EQ(r.lines[1], "default/rate 198.51.100.2 messages=1 spams=0 blocked=no");
    auto one = call("thresholds", {"1"});
    EXPECT_EQ(one.lines.size(), 1u);
    EXPECT_EQ(one.status_text, "1 of 2 counters");
    expect_usage(call("thresholds", {"0"}), "thresholds");
    expect_usage(call("thresholds", {"1", "2"}), "thresholds");
}

TEST(PolicyVerbsShadow, CountsPerRule) {
    TempDir dir;
    policy::Checks checks(load(R"X(<group name="default">
        <threshold name="try" messages="1" period="1m" block-for="1h" mode="shadow"/>
      </group>)X"),
                          dir.path);
    ControlServer::Handler shadow;
    for (auto& v : policy_verbs(checks))
        if (v.verb == "shadow") shadow = v.handler;
    ASSERT_TRUE(shadow);
    EXPECT_TRUE(shadow(control::Request{"shadow", {}}).lines.empty());
    checks.evaluate(tx("198.51.100.1", "a@x.example", "u@x.example", "m1"));
    checks.evaluate(tx("198.51.100.1", "a@x.example", "u@x.example", "m2"));
    auto r = shadow(control::Request{"shadow", {}});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.lines, std::vector<std::string>{"shadow default/threshold:try: 1"});
    EXPECT_FALSE(shadow(control::Request{"shadow", {"x"}}).ok);
}

TEST_F(PolicyVerbsTest, ExplainTracesEachRecipientAndChangesNothing) {
    auto r = call("explain", {"--client", "198.51.100.7", "--helo", "mx.example", "--from",
                              "<a@sender.example>", "--rcpt", "u@grey.example", "--rcpt",
                              "v@other.example"});
    ASSERT_TRUE(r.ok) << r.status_text;
    ASSERT_GE(r.lines.size(), 4u);
    EXPECT_EQ(r.lines.front(), "rcpt u@grey.example group=grey direction=inbound");
    bool greylist_step = false, grey_final = false, other_seen = false;
    for (const auto& l : r.lines) {
        greylist_step |= l.rfind("  greylist ", 0) == 0;
        grey_final |= l.rfind("  final action=greylist 450 4.7.1 ", 0) == 0;
        other_seen |= l == "rcpt v@other.example group=default direction=inbound";
    }
    EXPECT_TRUE(greylist_step);
    EXPECT_TRUE(grey_final);
    EXPECT_TRUE(other_seen);
    EXPECT_EQ(r.lines.back(), "  final action=none");
    EXPECT_EQ(r.status_text, "2 recipients explained; nothing changed");
    EXPECT_EQ(checks.greylist().size(), 0u);            // no triplet recorded
    EXPECT_EQ(checks.state().thresholds.size(), 0u);    // nothing counted
}

TEST_F(PolicyVerbsTest, ExplainBadArgumentsGetUsage) {
    const std::vector<std::string> good = {"--client", "192.0.2.1", "--from", "a@b.example",
                                           "--rcpt", "c@d.example"};
    ASSERT_TRUE(call("explain", good).ok);
    EXPECT_TRUE(call("explain", {"--client", "unknown", "--from", "<>", "--rcpt", "c@d.example"}).ok);
    std::vector<std::vector<std::string>> cases = {
        {},
        {"--from", "a@b.example", "--rcpt", "c@d.example"},                        // no client
        {"--client", "192.0.2.1", "--rcpt", "c@d.example"},                        // no from
        {"--client", "192.0.2.1", "--from", "a@b.example"},                        // no rcpt
        {"--client", "192.0.2.x", "--from", "a@b.example", "--rcpt", "c@d.example"},
        {"--client", "192.0.2.1", "--client", "192.0.2.2", "--from", "a", "--rcpt", "c@d"},
        {"--client", "192.0.2.1", "--from", "a@b.example", "--rcpt", "c@d.example", "--sasl"},
        {"--client", "192.0.2.1", "--from", "a@b.example", "--rcpt", "c@d.example", "--x", "y"},
        {"--client", "192.0.2.1", "--from", "a@b.example", "--rcpt", "<>"},
    };
    std::vector<std::string> many = {"--client", "192.0.2.1", "--from", "a@b.example"};
    for (std::size_t i = 0; i <= kMaxRecipients; ++i) {
        many.push_back("--rcpt");
        many.push_back("r" + std::to_string(i) + "@d.example");
    }
    cases.push_back(many);
    for (const auto& args : cases) expect_usage(call("explain", args), "explain");
}

}  // namespace
}  // namespace mpp::milter
