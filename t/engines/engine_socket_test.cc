// Tests of engines/engine_socket (connect, write, read by a deadline, against sockets the test
// holds) and of engines/scanner.cc's helpers.
#include "engines/engine_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

#include "t/engines/engine_servers.h"
#include "t/temp_dir.h"

namespace mpp::engines {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using testing::ClosedPort;
using testing::ScriptedServer;
using testing::SilentServer;
using testing::TempDir;

Deadline in(steady_clock::duration d) { return steady_clock::now() + d; }

TEST(ScannerTest, MemoryReaderGivesTheBytesInPiecesThenZero) {
    auto r = memory_reader("abcdefg");
    char buf[3];
    std::string got;
    for (std::size_t n; (n = r->read(buf, sizeof buf)) > 0;) got.append(buf, n);
    EXPECT_EQ(got, "abcdefg");
    EXPECT_EQ(r->read(buf, sizeof buf), 0u);
    EXPECT_FALSE(r->failed());
    EXPECT_EQ(r->error(), "");
}

TEST(ScannerTest, StatusNames) {
    using S = EngineResult::Status;
    EXPECT_STREQ(status_name(S::clean), "clean");
    EXPECT_STREQ(status_name(S::spam), "spam");
    EXPECT_STREQ(status_name(S::virus), "virus");
    EXPECT_STREQ(status_name(S::limits), "limits");
    EXPECT_STREQ(status_name(S::error), "error");
    EXPECT_STREQ(status_name(S::skipped), "skipped");
}

TEST(EngineSocketTest, SecondsText) {
    EXPECT_EQ(seconds_text(30s), "30s");
    EXPECT_EQ(seconds_text(300ms), "0.3s");
    EXPECT_EQ(seconds_text(299ms), "0.3s");
    EXPECT_EQ(seconds_text(1500ms), "1.5s");
    EXPECT_EQ(seconds_text(-5ms), "0s");
}

TEST(EngineSocketTest, RefusedConnectionFailsAtOnceWithTheAddress) {
    ClosedPort closed;
    std::string error;
    auto t0 = steady_clock::now();
    auto s = EngineSocket::connect(closed.address(), in(5s), &error);
    EXPECT_FALSE(s);
    EXPECT_EQ(error, "connect " + closed.address() + ": Connection refused");
    EXPECT_LT(steady_clock::now() - t0, 1s);
}

TEST(EngineSocketTest, MissingUnixSocket) {
    TempDir dir;
    std::string error;
    EXPECT_FALSE(EngineSocket::connect("unix:" + (dir / "none.sock"), in(5s), &error));
    EXPECT_EQ(error, "connect unix:" + (dir / "none.sock") + ": No such file or directory");
}

TEST(EngineSocketTest, AddressesThatNameNoServer) {
    std::string error;
    EXPECT_FALSE(EngineSocket::connect("*:783", in(1s), &error));
    EXPECT_EQ(error, "bad address *:783: no host to connect to");
    EXPECT_FALSE(EngineSocket::connect("783", in(1s), &error));
    EXPECT_NE(error.find("expected HOST:PORT"), std::string::npos) << error;
}

TEST(EngineSocketTest, TalksOverTcpAndUnixSockets) {
    TempDir dir;
    for (const auto& path : {std::string(), dir / "s.sock"}) {
        ScriptedServer server("pong", path);
        std::string error, answer;
        auto s = EngineSocket::connect(server.address(), in(5s), &error);
        ASSERT_TRUE(s) << error;
        EXPECT_EQ(s->address(), server.address());
        ASSERT_TRUE(s->write_all("ping", in(5s), &error)) << error;
        ASSERT_TRUE(s->read_until_eof(answer, 100, in(5s), &error)) << error;
        EXPECT_EQ(answer, "pong");
        EXPECT_EQ(server.received(), "ping");
    }
}

TEST(EngineSocketTest, HostNameIsLookedUpAndEachAddressTried) {
    // "localhost" may give ::1 first, where nobody listens: the next address is tried.
    ScriptedServer server("pong");
    auto port = server.address().substr(server.address().rfind(':'));
    std::string error, answer;
    auto s = EngineSocket::connect("localhost" + port, in(5s), &error);
    ASSERT_TRUE(s) << error;
    ASSERT_TRUE(s->read_until_eof(answer, 100, in(5s), &error)) << error;
    EXPECT_EQ(answer, "pong");
    EXPECT_FALSE(EngineSocket::connect("no-such-host.invalid:783", in(5s), &error));
    EXPECT_EQ(error.rfind("look up no-such-host.invalid:783: ", 0), 0u) << error;
}

TEST(EngineSocketTest, Ipv6Literal) {
    Fd l(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof a;
    if (!l || ::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(l.get(), 4) != 0 ||
        ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
        GTEST_SKIP() << "no IPv6 loopback here";
    std::string error;
    auto s = EngineSocket::connect("[::1]:" + std::to_string(ntohs(a.sin6_port)), in(5s), &error);
    EXPECT_TRUE(s) << error;
}

TEST(EngineSocketTest, ReadFromASilentServerEndsAtTheDeadline) {
    SilentServer server;
    std::string error;
    auto t0 = steady_clock::now();
    auto deadline = t0 + 300ms;
    auto s = EngineSocket::connect(server.address(), deadline, &error);
    ASSERT_TRUE(s) << error;
    char buf[16];
    EXPECT_EQ(s->read_some(buf, sizeof buf, deadline, &error), -1);
    auto took = steady_clock::now() - t0;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1s);
    EXPECT_EQ(error, "timeout after 0.3s while reading from " + server.address());
    // A call after the deadline fails at once.
    EXPECT_EQ(s->read_some(buf, sizeof buf, deadline, &error), -1);
    EXPECT_LT(steady_clock::now() - t0, 1s);
}

TEST(EngineSocketTest, WriteToAServerThatDoesNotReadEndsAtTheDeadline) {
    SilentServer server;
    std::string error;
    std::string big(64 * 1024 * 1024, 'x');  // more than any socket buffer holds
    auto t0 = steady_clock::now();
    auto deadline = t0 + 300ms;
    auto s = EngineSocket::connect(server.address(), deadline, &error);
    ASSERT_TRUE(s) << error;
    EXPECT_FALSE(s->write_all(big, deadline, &error));
    auto took = steady_clock::now() - t0;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(error, "timeout after 0.3s while writing to " + server.address());
}

TEST(EngineSocketTest, AnswerLongerThanTheBoundIsAnError) {
    ScriptedServer server(std::string(10000, 'a'));
    std::string error, answer;
    auto s = EngineSocket::connect(server.address(), in(5s), &error);
    ASSERT_TRUE(s) << error;
    EXPECT_FALSE(s->read_until_eof(answer, 4096, in(5s), &error));
    EXPECT_EQ(error, "answer from " + server.address() + " longer than 4096 bytes");
    EXPECT_EQ(answer.size(), 4097u);
}

TEST(EngineSocketTest, WriteAfterThePeerClosedIsAnErrorNotASignal) {
    ScriptedServer server("bye");
    std::string error, answer;
    auto s = EngineSocket::connect(server.address(), in(5s), &error);
    ASSERT_TRUE(s) << error;
    ASSERT_TRUE(s->read_until_eof(answer, 100, in(5s), &error)) << error;
    std::string chunk(64 * 1024, 'x');
    bool ok = true;
    for (int i = 0; i < 100 && ok; ++i) ok = s->write_all(chunk, in(5s), &error);
    EXPECT_FALSE(ok);
    EXPECT_EQ(error.rfind("write to " + server.address() + ": ", 0), 0u) << error;
}

}  // namespace
}  // namespace mpp::engines
