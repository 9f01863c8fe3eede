// t/engines/scan_runner_test.cc: engines/scan_runner: engines run in parallel (the wall time of
// two slow engines is one engine's, measured as overlap of their calls, not as a timing bound),
// max-size skips, the connection bound makes extra calls wait and then time out, the breaker
// opens after N consecutive failures (one warning), answers at once while open, lets one probe
// through after breaker-retry (FakeClock) and closes on its success.
//
// The engines here are test engines behind the Engine interface, told to answer clean, fail or
// block: what is under test is the runner's scheduling and breaker, which no real scanner can
// be made to exercise on demand (spamd, clamd and command scanners have their own tests
// against the real programs).
#include "engines/scan_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "lib/metrics.h"
#include "t/policy/policy_test_util.h"

using namespace mpp;
using namespace mpp::engines;
using Status = EngineResult::Status;
using namespace std::chrono_literals;

namespace {

struct TestEngine : Engine {
    std::string name_;
    Status answer = Status::clean;
    std::chrono::milliseconds hold{0};  // how long a call takes (bounded by the deadline)
    bool overrun = false;               // hold even past the deadline (a misbehaving engine)
    std::atomic<int> calls{0};
    std::atomic<int> running{0};
    std::atomic<int> most_at_once{0};
    std::atomic<int> overlap_seen{0};  // a call started while another was running

    explicit TestEngine(std::string n) : name_(std::move(n)) {}
    const std::string& name() const override { return name_; }
    EngineResult scan(const ScanMessage&, Deadline deadline) override {
        ++calls;
        const int now = ++running;
        int m = most_at_once.load();
        while (now > m && !most_at_once.compare_exchange_weak(m, now)) {}
        auto until = std::chrono::steady_clock::now() + hold;
        if (!overrun) until = std::min(deadline, until);
        std::this_thread::sleep_until(until);
        --running;
        EngineResult r;
        r.status = answer;
        if (answer == Status::error) r.detail = "refused";
        if (until == deadline && hold > 0ms) {
            r.status = Status::error;
            r.detail = "timeout";
        }
        return r;
    }
};

struct Shared {
    std::mutex m;
    std::condition_variable cv;
    int inside = 0;
};

// Two engines that each wait (bounded) until the other is inside too: only a parallel run
// gets both inside at once.
struct RendezvousEngine : Engine {
    std::string name_;
    Shared& shared;
    bool met = false;
    RendezvousEngine(std::string n, Shared& s) : name_(std::move(n)), shared(s) {}
    const std::string& name() const override { return name_; }
    EngineResult scan(const ScanMessage&, Deadline deadline) override {
        std::unique_lock lock(shared.m);
        ++shared.inside;
        shared.cv.notify_all();
        met = shared.cv.wait_until(lock, deadline, [&] { return shared.inside >= 2; });
        EngineResult r;
        r.status = met ? Status::clean : Status::error;
        return r;
    }
};

config::EngineCfg cfg_of(const std::string& name, int timeout_s = 5, int connections = 4,
                         int breaker = 3) {
    config::EngineCfg c;
    c.name = name;
    c.timeout = std::chrono::seconds(timeout_s);
    c.connections = connections;
    c.breaker_failures = breaker;
    c.breaker_retry = std::chrono::seconds(30);
    c.max_size = 1000;
    return c;
}

ScanMessage message(std::uint64_t size = 100) {
    ScanMessage m;
    m.queue_id = "QID1";
    m.size = size;
    m.open = [] { return memory_reader("Subject: x\r\n\r\nbody\r\n"); };
    return m;
}

TEST(ScanRunner, EnginesOfOneMessageRunInParallelResultsInOrder) {
    FakeClock clock;
    EngineSet set(clock);
    Shared shared;
    auto a = cfg_of("a"), b = cfg_of("b");
    auto ea = std::make_unique<RendezvousEngine>("a", shared);
    auto eb = std::make_unique<RendezvousEngine>("b", shared);
    auto* pa = ea.get();
    auto* pb = eb.get();
    set.add(a, std::move(ea));
    set.add(b, std::move(eb));
    auto r = set.run({"b", "a", "b"}, message());
    ASSERT_EQ(r.size(), 2u) << "duplicates run once";
    EXPECT_EQ(r[0].engine, "b");
    EXPECT_EQ(r[1].engine, "a");
    EXPECT_TRUE(pa->met && pb->met) << "both engines were inside at the same time";
    EXPECT_EQ(r[0].status, Status::clean);
}

TEST(ScanRunner, TooBigIsSkippedAndUnknownIsAnError) {
    FakeClock clock;
    EngineSet set(clock);
    auto c = cfg_of("a");
    auto e = std::make_unique<TestEngine>("a");
    auto* p = e.get();
    set.add(c, std::move(e));
    auto r = set.run({"a", "nope"}, message(5000));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].status, Status::skipped);
    EXPECT_EQ(r[0].detail, "larger than max-size 1000");
    EXPECT_EQ(p->calls, 0);
    EXPECT_EQ(r[1].status, Status::error);
    EXPECT_EQ(r[1].detail, "no such engine");
}

TEST(ScanRunner, ConnectionBoundMakesCallsWaitThenTimeOut) {
    FakeClock clock;
    EngineSet set(clock);
    auto c = cfg_of("a", 1, 1, 0);  // 1 s timeout, one call at once, no breaker
    auto e = std::make_unique<TestEngine>("a");
    e->hold = 300ms;
    auto* p = e.get();
    set.add(c, std::move(e));
    std::vector<std::jthread> threads;
    std::atomic<int> clean{0};
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([&] {
            if (set.run({"a"}, message())[0].status == Status::clean) ++clean;
        });
    threads.clear();
    EXPECT_EQ(p->most_at_once, 1) << "never more than `connections` calls at once";
    EXPECT_EQ(clean, 3) << "3 x 300 ms fit in the 1 s deadline one after another";

    // A call that holds its slot past the timeout: the next one waits for a slot only until
    // its own deadline.
    p->hold = 1500ms;
    p->overrun = true;
    std::jthread first([&] { set.run({"a"}, message()); });
    while (p->running == 0) std::this_thread::sleep_for(1ms);
    auto r = set.run({"a"}, message())[0];
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "busy: no connection slot before the timeout");
}

TEST(ScanRunner, BreakerOpensAfterConsecutiveFailuresProbesAndCloses) {
    FakeClock clock;
    EngineSet set(clock);
    auto c = cfg_of("sa", 5, 4, 3);
    auto e = std::make_unique<TestEngine>("sa");
    e->answer = Status::error;
    auto* p = e.get();
    set.add(c, std::move(e));
    const auto opened = metrics::get("engine-breaker-opened").get();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(set.run({"sa"}, message())[0].detail, "refused");
    EXPECT_TRUE(set.down("sa"));
    EXPECT_EQ(metrics::get("engine-breaker-opened").get(), opened + 1);
    auto r = set.run({"sa"}, message())[0];
    EXPECT_EQ(r.status, Status::error);
    EXPECT_EQ(r.detail, "down since 3 consecutive failures");
    EXPECT_EQ(p->calls, 3) << "an open breaker does not call the engine";

    clock.advance(31s);  // the probe goes through, fails: open for another 30 s
    EXPECT_EQ(set.run({"sa"}, message())[0].detail, "refused");
    EXPECT_EQ(p->calls, 4);
    EXPECT_EQ(set.run({"sa"}, message())[0].detail, "down since 4 consecutive failures");
    EXPECT_EQ(p->calls, 4);

    clock.advance(31s);
    p->answer = Status::clean;  // the probe succeeds: closed again
    EXPECT_EQ(set.run({"sa"}, message())[0].status, Status::clean);
    EXPECT_FALSE(set.down("sa"));
    EXPECT_EQ(set.run({"sa"}, message())[0].status, Status::clean);
    EXPECT_EQ(p->calls, 6);
    EXPECT_EQ(metrics::get("engine-breaker-opened").get(), opened + 1);
}

TEST(ScanRunner, SuccessResetsTheFailureCountAndZeroNeverOpens) {
    FakeClock clock;
    EngineSet set(clock);
    auto c = cfg_of("a", 5, 4, 2);
    auto n = cfg_of("never", 5, 4, 0);
    auto e = std::make_unique<TestEngine>("a");
    auto en = std::make_unique<TestEngine>("never");
    auto* p = e.get();
    en->answer = Status::error;
    set.add(c, std::move(e));
    set.add(n, std::move(en));
    for (int i = 0; i < 5; ++i) {
        p->answer = i % 2 ? Status::clean : Status::error;  // never 2 failures in a row
        set.run({"a"}, message());
    }
    EXPECT_FALSE(set.down("a"));
    for (int i = 0; i < 10; ++i) set.run({"never"}, message());
    EXPECT_FALSE(set.down("never"));
}

}  // namespace
