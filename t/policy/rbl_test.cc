// t/policy/rbl_test.cc: policy/rbl: query names (IPv4 octets, IPv6 nibbles, domains), answer
// matching (answers networks, 127.255.255.x refusals), per-group scoring and reject-at, exempt
// lists, the TXT reason; the engine's RBL seam; and the whole chain against a real unbound with
// the real resolver. The scoring tests answer DNS from a table through RblChecker's lookup
// seam, so each can state exactly what the lists say; the real DNS path is tested at the end
// and in t/integration/policy_rbl.py.
#include "policy/rbl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "lib/log.h"
#include "lib/metrics.h"
#include "policy/engine.h"
#include "t/policy/policy_test_util.h"
#include "t/unbound_server.h"

using namespace mpp;
using namespace mpp::policy;
using mpp::policy::test::load;
using mpp::policy::test::tx;
using namespace std::chrono_literals;

namespace {

const char* kConfig = R"X(
  <list name="relays" type="cidr">192.0.2.0/24</list>
  <rbl name="zen" zone="zen.example" score="6"/>
  <rbl name="small" zone="small.example" score="2" answers="127.0.0.2 127.0.0.4/31"/>
  <rbl name="allow" zone="wl.example" score="-3"/>
  <rbl name="dbl" zone="dbl.example" score="5" lookup="sender-domain"/>
  <rbl name="helo" zone="helo.example" score="1" lookup="helo"/>
  <group name="strict">
    <match recipient-domain="strict.example"/>
    <rbl use="zen small allow" reject-at="6" exempt="relays"/>
    <reject on="rbl" code="554" dsn="5.7.1">Blocked: %REASON% (%RBL%)</reject>
  </group>
  <group name="scoring">
    <match recipient-domain="score.example"/>
    <rbl use="zen small dbl helo"/>
  </group>
  <group name="default"/>
)X";

// A transaction from `client` to a recipient of the group "strict".
Transaction to_strict(const std::string& client) {
    return tx(client, "a@b.example", "x@strict.example");
}

dns::Answer answer(dns::Status s, std::vector<std::string> records = {}) {
    dns::Answer a;
    a.status = s;
    a.records = std::move(records);
    return a;
}

// The DNS as a table: name -> answer for A, "txt:" + name for TXT; NXDOMAIN otherwise.
struct TableDns {
    std::map<std::string, dns::Answer> table;
    std::vector<std::vector<dns::Question>> calls;
    RblLookup lookup() {
        return [this](const std::vector<dns::Question>& qs, std::chrono::milliseconds) {
            calls.push_back(qs);
            std::vector<dns::Answer> out;
            for (const auto& q : qs) {
                auto it = table.find((q.type == dns::Type::txt ? "txt:" : "") + q.name);
                out.push_back(it == table.end() ? answer(dns::Status::nxdomain) : it->second);
            }
            return out;
        };
    }
};

TEST(RblNames, ClientIpv4AndIpv6) {
    EXPECT_EQ(rbl_client_name(*IpAddr::parse("192.0.2.5"), "zen.example"), "5.2.0.192.zen.example");
    EXPECT_EQ(rbl_client_name(*IpAddr::parse("::ffff:10.1.2.3"), "Zen.Example"),
              "3.2.1.10.zen.example");
    EXPECT_EQ(rbl_client_name(*IpAddr::parse("2001:db8:1:2::abcd"), "zen.example"),
              "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.example");
}

TEST(RblNames, Domains) {
    EXPECT_EQ(rbl_domain_name("Mail.Example.COM.", "dbl.example"), "mail.example.com.dbl.example");
    EXPECT_FALSE(rbl_domain_name("", "dbl.example"));
    EXPECT_FALSE(rbl_domain_name("localhost", "dbl.example"));
    EXPECT_FALSE(rbl_domain_name("[192.0.2.1]", "dbl.example"));
    EXPECT_FALSE(rbl_domain_name("192.0.2.1", "dbl.example"));
    EXPECT_FALSE(rbl_domain_name("bad..example", "dbl.example"));
    auto cfg = load(kConfig);
    Transaction t = tx("192.0.2.9", "someone@Spam.Example", "a@score.example");
    t.helo = "[192.0.2.9]";
    EXPECT_EQ(rbl_query_name(cfg->rbls[3], t), "spam.example.dbl.example");
    EXPECT_FALSE(rbl_query_name(cfg->rbls[4], t));  // an address literal HELO
    t.sender = "";
    EXPECT_FALSE(rbl_query_name(cfg->rbls[3], t));  // the null sender
    t.client.reset();
    EXPECT_FALSE(rbl_query_name(cfg->rbls[0], t));  // an unknown client
}

TEST(RblMatching, AnswersNetworksAndRefusals) {
    auto cfg = load(kConfig);
    const auto& zen = cfg->rbls[0];
    const auto& small = cfg->rbls[1];
    std::string code;
    EXPECT_EQ(rbl_match(*cfg, zen, {"127.0.0.2"}, &code), RblMatch::listed);
    EXPECT_EQ(code, "127.0.0.2");
    EXPECT_EQ(rbl_match(*cfg, zen, {"10.0.0.1"}, nullptr), RblMatch::none);
    EXPECT_EQ(rbl_match(*cfg, small, {"127.0.0.3"}, nullptr), RblMatch::none);
    EXPECT_EQ(rbl_match(*cfg, small, {"127.0.0.5"}, &code), RblMatch::listed);
    EXPECT_EQ(code, "127.0.0.5");
    EXPECT_EQ(rbl_match(*cfg, small, {"127.0.0.3", "127.0.0.4"}, &code), RblMatch::listed);
    // 127.255.255.x is in 127.0.0.0/8 and still never a listing.
    EXPECT_EQ(rbl_match(*cfg, zen, {"127.255.255.254"}, &code), RblMatch::refused);
    EXPECT_EQ(code, "127.255.255.254");
    EXPECT_EQ(rbl_match(*cfg, zen, {"127.255.255.254", "127.0.0.2"}, &code), RblMatch::listed);
}

struct RblCheck : ::testing::Test {
    FakeClock clock;
    TableDns dns;
    RblChecker checker{dns.lookup(), clock};
    std::shared_ptr<const config::Config> cfg = load(kConfig);
    const config::GroupCfg& group(const std::string& name) {
        for (const auto& g : cfg->groups)
            if (g.name == name) return g;
        throw std::runtime_error("no group " + name);
    }
};

TEST_F(RblCheck, ScoresSumAndRejectAtRefusesWithTheTxtReason) {
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    dns.table["txt:9.100.51.198.zen.example"] = answer(dns::Status::ok, {"Listed at zen, see url"});
    auto o = checker.check(*cfg, group("strict"), to_strict("198.51.100.9"));
    EXPECT_TRUE(o.reject);
    EXPECT_EQ(o.reason, "Listed at zen, see url");
    EXPECT_EQ(o.score, 6);
    EXPECT_EQ(o.checks, "rbl:zen(6)");
    // All A queries in one parallel call, then the TXT of the refusing list.
    ASSERT_EQ(dns.calls.size(), 2u);
    EXPECT_EQ(dns.calls[0].size(), 3u);
    EXPECT_EQ(dns.calls[1].at(0).type, dns::Type::txt);
}

TEST_F(RblCheck, BelowRejectAtOnlyScoresAndAllowListsSubtract) {
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    dns.table["9.100.51.198.wl.example"] = answer(dns::Status::ok, {"127.0.0.10"});
    auto o = checker.check(*cfg, group("strict"), to_strict("198.51.100.9"));
    EXPECT_FALSE(o.reject);
    EXPECT_EQ(o.score, 3);
    EXPECT_EQ(o.checks, "rbl:zen(6) rbl:allow(-3)");
    EXPECT_EQ(dns.calls.size(), 1u);  // no TXT without a refusal
    // Two lists adding up to reject-at refuse; without a TXT record the reason names the zone.
    dns.table.erase("9.100.51.198.wl.example");
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::ok, {"127.0.0.4"});
    cfg = load(std::string(kConfig).replace(std::string(kConfig).find("score=\"6\""), 9,
                                             "score=\"4\""));
    dns.table["9.100.51.198.small.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    o = checker.check(*cfg, group("strict"), to_strict("198.51.100.9"));
    EXPECT_TRUE(o.reject);
    EXPECT_EQ(o.score, 6);
    EXPECT_EQ(o.reason, "listed by zen.example (127.0.0.4)");
}

TEST_F(RblCheck, RefusalAnswersNeverCountAndAreLoggedOncePerHour) {
    auto log_file = std::filesystem::temp_directory_path() /
                    ("mpp-rbl-test-" + std::to_string(::getpid()) + ".log");
    log::Options lo;
    lo.file = log_file.string();
    log::configure(lo);
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::ok, {"127.255.255.254"});
    auto t = to_strict("198.51.100.9");
    for (int i = 0; i < 3; ++i) {
        auto o = checker.check(*cfg, group("strict"), t);
        EXPECT_FALSE(o.reject);
        EXPECT_EQ(o.score, 0);
    }
    clock.advance(61min);
    checker.check(*cfg, group("strict"), t);
    log::Options to_stderr;
    to_stderr.to_stderr = true;
    log::configure(to_stderr);
    std::ifstream in(log_file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::filesystem::remove(log_file);
    std::size_t count = 0;
    for (auto p = text.find("rbl: zen.example refused the query (answer 127.255.255.254)");
         p != std::string::npos; p = text.find("rbl: zen.example refused", p + 1))
        ++count;
    EXPECT_EQ(count, 2u) << text;
}

TEST_F(RblCheck, ExemptAndFailuresAreNotListings) {
    dns.table["5.2.0.192.zen.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    auto o = checker.check(*cfg, group("strict"), to_strict("192.0.2.5"));
    EXPECT_FALSE(o.reject);
    EXPECT_TRUE(dns.calls.empty());  // relays are exempt: nothing asked
    ASSERT_FALSE(o.steps.empty());
    EXPECT_EQ(o.steps[0].result, "exempt");
    auto errors = metrics::get("rbl-errors").get();
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::timeout);
    dns.table["9.100.51.198.small.example"] = answer(dns::Status::busy);
    o = checker.check(*cfg, group("strict"), to_strict("198.51.100.9"));
    EXPECT_FALSE(o.reject);
    EXPECT_EQ(o.score, 0);
    EXPECT_EQ(metrics::get("rbl-errors").get(), errors + 2);
}

TEST_F(RblCheck, DomainListsUseSenderDomainAndHelo) {
    dns.table["spam.example.dbl.example"] = answer(dns::Status::ok, {"127.0.1.2"});
    dns.table["mx.spam.example.helo.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    auto t = tx("198.51.100.9", "x@spam.example", "a@score.example");
    t.helo = "mx.spam.example";
    auto o = checker.check(*cfg, group("scoring"), t);
    EXPECT_FALSE(o.reject);  // no reject-at: only scores
    EXPECT_EQ(o.score, 6);
    EXPECT_EQ(o.checks, "rbl:dbl(5) rbl:helo(1)");
}

TEST(RblEngine, SeamRefusesAtRcptAndCarriesTheScore) {
    FakeClock clock;
    EngineState state(clock);
    TableDns dns;
    RblChecker checker(dns.lookup(), clock);
    EngineHooks hooks;
    hooks.rbl = [&](const config::Config& c, const config::GroupCfg& g, const Transaction& t) {
        return checker.check(c, g, t);
    };
    Engine engine(load(kConfig), clock, state, hooks);
    dns.table["9.100.51.198.zen.example"] = answer(dns::Status::ok, {"127.0.0.2"});
    dns.table["txt:9.100.51.198.zen.example"] = answer(dns::Status::ok, {"Listed, see url"});
    Verdict v = engine.evaluate(to_strict("198.51.100.9"));
    EXPECT_EQ(v.action, Action::reject);
    EXPECT_EQ(v.code, 554);
    EXPECT_EQ(v.text, "Blocked: Listed, see url (zen)");  // %RBL%: the listing RBLs
    EXPECT_EQ(v.check, "rbl");
    v = engine.evaluate(tx("198.51.100.9", "a@b.example", "x@score.example"));
    EXPECT_EQ(v.action, Action::none);
    EXPECT_EQ(v.score, 6);
    EXPECT_EQ(v.checks, "rbl:zen(6)");
    // Explain shows the RBL steps; the group without <rbl use> asks nothing.
    auto e = engine.explain(tx("198.51.100.9", "a@b.example", "x@score.example"));
    bool saw = false;
    for (const auto& s : e.steps) saw |= s.check == "rbl:zen" && s.result == "hit";
    EXPECT_TRUE(saw);
    auto calls = dns.calls.size();
    EXPECT_EQ(engine.evaluate(tx("198.51.100.9", "a@b.example", "x@other.example")).action,
              Action::none);
    EXPECT_EQ(dns.calls.size(), calls);
}

TEST(RblUnbound, RealResolverAgainstUnbound) {
    if (!mpp::testing::UnboundServer::available()) GTEST_SKIP() << "unbound is not installed";
    mpp::testing::UnboundServer server;
    ASSERT_TRUE(server.start({
        "local-zone: \"zen.example.\" static",
        "local-data: \"9.100.51.198.zen.example. 300 IN A 127.0.0.2\"",
        "local-data: '9.100.51.198.zen.example. 300 IN TXT \"Listed in zen: see url\"'",
        "local-data: \"8.100.51.198.zen.example. 300 IN A 127.255.255.254\"",
        "local-data: \"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
        "8.b.d.0.1.0.0.2.zen.example. "
        "300 IN A 127.0.0.2\"",
    })) << server.log();
    FakeClock clock;
    dns::Resolver::Options o;
    o.servers = {server.address()};
    std::string error;
    auto resolver = dns::Resolver::create(o, clock, &error);
    ASSERT_TRUE(resolver) << error;
    RblChecker checker(
        [&](const std::vector<dns::Question>& qs, std::chrono::milliseconds wait) {
            return resolver->lookup_all(qs, wait);
        },
        clock);
    auto cfg = load(kConfig);
    const config::GroupCfg* strict = &cfg->groups[0];
    auto listed = checker.check(*cfg, *strict, to_strict("198.51.100.9"));
    EXPECT_TRUE(listed.reject);
    EXPECT_EQ(listed.reason, "Listed in zen: see url");
    auto v6 = checker.check(*cfg, *strict, to_strict("2001:db8::1"));
    EXPECT_TRUE(v6.reject);
    EXPECT_EQ(v6.reason, "listed by zen.example (127.0.0.2)");  // no TXT for it
    auto refused = checker.check(*cfg, *strict, to_strict("198.51.100.8"));
    EXPECT_FALSE(refused.reject);
    auto clean = checker.check(*cfg, *strict, to_strict("198.51.100.7"));
    EXPECT_FALSE(clean.reject);
    EXPECT_EQ(clean.score, 0);
}

}  // namespace
