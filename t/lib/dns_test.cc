// Tests for lib/dns.h against a real unbound serving a test zone (t/unbound_server.h), and a
// UDP socket that never answers for timeouts. Cache expiry runs on a FakeClock.
#include "lib/dns.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "lib/metrics.h"
#include "t/unbound_server.h"

namespace mpp::dns {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> zone() {
    return {
        "local-zone: \"rbl.example.\" static",
        "local-data: \"rbl.example. 3600 IN SOA ns.rbl.example. admin.rbl.example. 1 3600 600 "
        "86400 45\"",
        "local-data: \"2.0.0.127.rbl.example. 300 IN A 127.0.0.2\"",
        "local-data: '2.0.0.127.rbl.example. 300 IN TXT \"Listed, see https://rbl.example/\"'",
        "local-data: \"short.rbl.example. 2 IN A 127.0.0.3\"",
    };
}

class DnsTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::UnboundServer::available()) GTEST_SKIP() << "unbound is not installed";
        ASSERT_TRUE(server_.start(zone())) << server_.log();
        opt_.servers = {server_.address()};
        opt_.timeout = 1000ms;
    }
    std::unique_ptr<Resolver> make() {
        std::string error;
        auto r = Resolver::create(opt_, clock_, &error);
        EXPECT_TRUE(r) << error;
        return r;
    }
    Answer one(Resolver& r, const std::string& name, Type t = Type::a) {
        return r.lookup_all({{name, t}}, 3s).at(0);
    }

    testing::UnboundServer server_;
    FakeClock clock_;
    Resolver::Options opt_;
};

TEST_F(DnsTest, ListedNameAnswersAAndTxt) {
    auto r = make();
    Answer a = one(*r, "2.0.0.127.rbl.example");
    EXPECT_EQ(a.status, Status::ok);
    EXPECT_EQ(a.records, std::vector<std::string>{"127.0.0.2"});
    EXPECT_FALSE(a.cached);
    Answer t = one(*r, "2.0.0.127.RBL.example.", Type::txt);
    EXPECT_EQ(t.status, Status::ok);
    EXPECT_EQ(t.records, std::vector<std::string>{"Listed, see https://rbl.example/"});
    // The second ask is served from the cache.
    EXPECT_TRUE(one(*r, "2.0.0.127.rbl.example").cached);
}

TEST_F(DnsTest, MissIsNxdomainAndCachedBySoaMinimum) {
    auto r = make();
    Answer a = one(*r, "3.0.0.127.rbl.example");
    EXPECT_EQ(a.status, Status::nxdomain);
    EXPECT_FALSE(a.cached);
    Answer b = one(*r, "3.0.0.127.rbl.example");
    EXPECT_EQ(b.status, Status::nxdomain);
    EXPECT_TRUE(b.cached);
    // A name that exists without a TXT record: no data, also negative.
    EXPECT_EQ(one(*r, "short.rbl.example", Type::txt).status, Status::nodata);
    // SOA MINIMUM is 45s: still cached at 44s, asked again at 46s.
    clock_.advance(44s);
    EXPECT_TRUE(one(*r, "3.0.0.127.rbl.example").cached);
    clock_.advance(2s);
    EXPECT_FALSE(one(*r, "3.0.0.127.rbl.example").cached);
}

TEST_F(DnsTest, TtlExpiryAsksAgain) {
    auto r = make();
    auto& sent = metrics::get("dns-queries");
    EXPECT_EQ(one(*r, "short.rbl.example").status, Status::ok);
    auto before = sent.get();
    clock_.advance(1s);
    EXPECT_TRUE(one(*r, "short.rbl.example").cached);
    EXPECT_EQ(sent.get(), before);
    clock_.advance(2s);  // TTL 2s has passed
    Answer a = one(*r, "short.rbl.example");
    EXPECT_EQ(a.status, Status::ok);
    EXPECT_FALSE(a.cached);
    EXPECT_EQ(sent.get(), before + 1);
}

TEST_F(DnsTest, CacheIsBounded) {
    opt_.cache_entries = 2;
    auto r = make();
    one(*r, "a.rbl.example");
    one(*r, "b.rbl.example");
    one(*r, "c.rbl.example");  // evicts a (least recently used)
    EXPECT_TRUE(one(*r, "c.rbl.example").cached);
    EXPECT_FALSE(one(*r, "a.rbl.example").cached);
}

TEST_F(DnsTest, ParallelQueriesAllAnswered) {
    auto r = make();
    std::vector<Question> qs;
    for (int i = 0; i < 200; ++i)
        qs.push_back({std::to_string(i) + ".9.0.127.rbl.example", Type::a});
    qs.push_back({"2.0.0.127.rbl.example", Type::a});
    auto start = std::chrono::steady_clock::now();
    auto answers = r->lookup_all(qs, 3s);
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(answers.size(), qs.size());
    for (std::size_t i = 0; i + 1 < answers.size(); ++i)
        EXPECT_EQ(answers[i].status, Status::nxdomain) << qs[i].name;
    EXPECT_EQ(answers.back().status, Status::ok);
    EXPECT_LT(took, 2s);  // in parallel: far below 201 sequential round trips with retries
}

TEST_F(DnsTest, BadNameIsAnErrorAtOnce) {
    auto r = make();
    EXPECT_EQ(one(*r, "bad..name").status, Status::error);
}

// A server that never answers: a bound UDP socket nobody reads.
class SilentServer {
public:
    SilentServer() {
        sock_.reset(::socket(AF_INET, SOCK_DGRAM, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(sock_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(sock_.get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    Fd sock_;
    unsigned port_ = 0;
};

TEST(DnsTimeout, SilentServerTimesOutWithinTheDeadline) {
    SilentServer silent;
    FakeClock clock;
    Resolver::Options opt;
    opt.servers = {silent.address()};
    opt.timeout = 300ms;
    opt.attempts = 3;
    std::string error;
    auto r = Resolver::create(opt, clock, &error);
    ASSERT_TRUE(r) << error;
    auto& sent = metrics::get("dns-queries");
    auto before = sent.get();
    auto start = std::chrono::steady_clock::now();
    auto a = r->lookup_all({{"2.0.0.127.rbl.example", Type::a}}, 2s);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(a.at(0).status, Status::timeout);
    EXPECT_GE(took, 290ms);
    EXPECT_LT(took, 1s);
    EXPECT_EQ(sent.get(), before + 3);  // three tries
    // The wait's own deadline ends lookup_all even when the query's is longer.
    start = std::chrono::steady_clock::now();
    a = r->lookup_all({{"4.0.0.127.rbl.example", Type::a}}, 100ms);
    took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(a.at(0).status, Status::timeout);
    EXPECT_LT(took, 250ms);
}

TEST(DnsTimeout, StoppedUnboundTimesOutAndItsAnswersAreNotCached) {
    if (!testing::UnboundServer::available()) GTEST_SKIP() << "unbound is not installed";
    testing::UnboundServer server;
    ASSERT_TRUE(server.start(zone())) << server.log();
    FakeClock clock;
    Resolver::Options opt;
    opt.servers = {server.address()};
    opt.timeout = 200ms;
    std::string error;
    auto r = Resolver::create(opt, clock, &error);
    ASSERT_TRUE(r) << error;
    server.stop();
    EXPECT_EQ(r->lookup_all({{"2.0.0.127.rbl.example", Type::a}}, 1s).at(0).status,
              Status::timeout);
    ASSERT_TRUE(server.start(zone())) << server.log();
    auto a = r->lookup_all({{"2.0.0.127.rbl.example", Type::a}}, 1s).at(0);
    EXPECT_EQ(a.status, Status::ok);
    EXPECT_FALSE(a.cached);
}

TEST(DnsBusy, OverMaxInflightIsBusyAtOnce) {
    SilentServer silent;
    FakeClock clock;
    Resolver::Options opt;
    opt.servers = {silent.address()};
    opt.timeout = 300ms;
    opt.max_inflight = 2;
    std::string error;
    auto r = Resolver::create(opt, clock, &error);
    ASSERT_TRUE(r) << error;
    auto& busy = metrics::get("dns-busy");
    auto before = busy.get();
    auto a = r->lookup_all({{"a.example", Type::a}, {"b.example", Type::a}, {"c.example", Type::a}},
                           1s);
    EXPECT_EQ(a[0].status, Status::timeout);
    EXPECT_EQ(a[1].status, Status::timeout);
    EXPECT_EQ(a[2].status, Status::busy);
    EXPECT_EQ(busy.get(), before + 1);
    // Slots come back: after the timeouts a new lookup is sent, not refused.
    EXPECT_EQ(r->lookup_all({{"d.example", Type::a}}, 1s).at(0).status, Status::timeout);
    EXPECT_EQ(busy.get(), before + 1);
}

TEST(DnsShutdown, PendingLookupsEndWithAnError) {
    SilentServer silent;
    FakeClock clock;
    Resolver::Options opt;
    opt.servers = {silent.address()};
    opt.timeout = 10000ms;
    std::string error;
    auto r = Resolver::create(opt, clock, &error);
    ASSERT_TRUE(r) << error;
    std::mutex m;
    std::condition_variable cv;
    std::optional<Status> got;
    r->lookup("x.example", Type::a, [&](const Answer& a) {
        std::lock_guard lock(m);
        got = a.status;
        cv.notify_all();
    });
    r.reset();
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 1s, [&] { return got.has_value(); }));
    EXPECT_EQ(*got, Status::error);
}

TEST(DnsConfig, ResolvConfAndBadServers) {
    EXPECT_EQ(parse_resolv_conf("# comment\nsearch example.com\nnameserver 192.0.2.53\n"
                                "nameserver 2001:db8::53\nnameserver bogus\n"),
              (std::vector<std::string>{"192.0.2.53", "2001:db8::53"}));
    FakeClock clock;
    Resolver::Options opt;
    opt.servers = {"not-an-ip"};
    std::string error;
    EXPECT_FALSE(Resolver::create(opt, clock, &error));
    EXPECT_EQ(error, "dns: bad name server \"not-an-ip\"");
}

}  // namespace
}  // namespace mpp::dns
