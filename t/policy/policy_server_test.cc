// t/policy/policy_server_test.cc: the policy server over real sockets (loopback TCP and a unix
// socket) with a stub evaluator: pipelining, split reads, malformed input (no reply, close, the
// others still served), timeouts, the connection cap, and the reply for each verdict.
#include "policy/policy_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lib/fd.h"
#include "lib/metrics.h"

using namespace std::chrono_literals;
using mpp::Fd;
using mpp::SocketSpec;
using mpp::policy::Action;
using mpp::policy::PolicyServer;
using mpp::policy::Transaction;
using mpp::policy::Verdict;

namespace {

const std::string kRequest =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
    "client_name=mail.example.com\nsender=alice@example.com\nrecipient=bob@example.net\n\n";

std::string request_to(const std::string& rcpt) {
    return "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
           "sender=alice@example.com\nrecipient=" + rcpt + "\n\n";
}

// Rejects recipients starting with "reject", answers none otherwise; echoes the recipient in
// the text so replies can be told apart.
Verdict stub(const Transaction& t) {
    if (t.recipient.rfind("throw", 0) == 0) throw std::runtime_error("stub failure");
    Verdict v;
    if (t.recipient.rfind("reject", 0) == 0) {
        v.action = Action::reject;
        v.text = "no " + t.recipient;
    }
    return v;
}

// The server on its own event loop thread; stopped through a flag polled by a timer (libevent
// is not set up for cross-thread calls here).
class Harness {
public:
    explicit Harness(PolicyServer::Settings settings, SocketSpec spec = local_spec()) {
        base_.reset(event_base_new());
        std::string error;
        server_ = PolicyServer::open(base_.get(), spec, settings, &stub, -1, -1, &error);
        if (!server_) throw std::runtime_error(error);
        address_ = server_->address();
        tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Harness::on_tick, this));
        timeval tv{0, 5000};
        event_add(tick_.get(), &tv);
        loop_ = std::thread([this] { event_base_dispatch(base_.get()); });
    }
    ~Harness() {
        stop_ = true;
        loop_.join();
        server_.reset();
    }
    static SocketSpec local_spec() {
        SocketSpec s;
        s.kind = SocketSpec::Kind::inet;
        s.host = "127.0.0.1";
        s.port = 0;
        return s;
    }
    const std::string& address() const { return address_; }

private:
    static void on_tick(evutil_socket_t, short, void* arg) {
        auto* self = static_cast<Harness*>(arg);
        if (self->stop_) event_base_loopbreak(self->base_.get());
    }
    mpp::EventBasePtr base_;
    mpp::EventPtr tick_;
    std::unique_ptr<PolicyServer> server_;
    std::string address_;
    std::atomic<bool> stop_{false};
    std::thread loop_;
};

Fd connect_to(const std::string& address) {
    if (address.rfind("unix:", 0) == 0) {
        Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::string path = address.substr(5);
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return Fd();
        return fd;
    }
    auto colon = address.rfind(':');
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return Fd();
    return fd;
}

void send_all(const Fd& fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads until `replies` replies ("...\n\n") have arrived, the peer closes, or the deadline.
struct ReadResult {
    std::vector<std::string> replies;
    bool closed = false;
    std::string rest;
};

ReadResult read_replies(const Fd& fd, std::size_t replies, std::chrono::milliseconds limit = 3s) {
    ReadResult r;
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string buf;
    while (r.replies.size() < replies) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char chunk[4096];
        ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
        if (n <= 0) {
            r.closed = true;
            break;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
        for (auto end = buf.find("\n\n"); end != std::string::npos; end = buf.find("\n\n")) {
            r.replies.push_back(buf.substr(0, end));
            buf.erase(0, end + 2);
        }
    }
    r.rest = buf;
    return r;
}

// Whether the server closes the connection within `limit`, sending nothing more.
bool closed_without_reply(const Fd& fd, std::chrono::milliseconds limit = 3s) {
    auto r = read_replies(fd, 1, limit);
    return r.closed && r.replies.empty() && r.rest.empty();
}

std::int64_t metric(const char* name) { return mpp::metrics::get(name).get(); }

PolicyServer::Settings fast() {
    PolicyServer::Settings s;
    s.idle_timeout = 2000ms;
    s.request_timeout = 2000ms;
    s.max_connections = 50;
    return s;
}

}  // namespace

// Every test runs twice: connections served on the listener's own loop (threads=0, as the
// tests drive it) and handed to two loop threads of the server's own (threads=2, as mppd runs).
class PolicyServerLoops : public ::testing::TestWithParam<int> {
protected:
    PolicyServer::Settings fast() const {
        auto s = ::fast();
        s.threads = GetParam();
        return s;
    }
};

INSTANTIATE_TEST_SUITE_P(Threads, PolicyServerLoops, ::testing::Values(0, 2),
                         [](const auto& info) { return "threads" + std::to_string(info.param); });

TEST_P(PolicyServerLoops, AnswersDunnoAndPipelinedInOrder) {
    Harness h(fast());
    Fd c = connect_to(h.address());
    ASSERT_TRUE(c);
    const auto before = metric("policy-requests");
    send_all(c, request_to("a@example.net") + request_to("reject1@example.net") +
                    request_to("b@example.net"));
    auto r = read_replies(c, 3);
    ASSERT_EQ(r.replies.size(), 3u);
    EXPECT_EQ(r.replies[0], "action=DUNNO");
    EXPECT_EQ(r.replies[1], "action=550 5.7.1 no reject1@example.net");
    EXPECT_EQ(r.replies[2], "action=DUNNO");
    EXPECT_EQ(metric("policy-requests") - before, 3);
}

TEST_P(PolicyServerLoops, SplitInto100WritesGivesTheSameAnswer) {
    Harness h(fast());
    const std::string req = request_to("reject-split@example.net");
    Fd whole = connect_to(h.address());
    send_all(whole, req);
    auto a = read_replies(whole, 1);
    ASSERT_EQ(a.replies.size(), 1u);

    Fd split = connect_to(h.address());
    int one = 1;
    ::setsockopt(split.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ASSERT_GE(req.size(), 100u);
    std::size_t writes = 0;
    for (std::size_t k = 0; k < 100; ++k, ++writes) {  // exactly 100 pieces
        const std::size_t from = k * req.size() / 100, to = (k + 1) * req.size() / 100;
        send_all(split, std::string_view(req).substr(from, to - from));
        // Nothing must be answered before the request is whole.
        if (k < 99) {
            EXPECT_TRUE(read_replies(split, 1, 1ms).replies.empty());
        }
    }
    EXPECT_EQ(writes, 100u);
    auto b = read_replies(split, 1);
    ASSERT_EQ(b.replies.size(), 1u);
    EXPECT_EQ(a.replies[0], b.replies[0]);
    EXPECT_EQ(b.replies[0], "action=550 5.7.1 no reject-split@example.net");
}

TEST_P(PolicyServerLoops, MalformedGetsNoReplyAndOthersAreServed) {
    Harness h(fast());
    const std::vector<std::pair<const char*, std::string>> shapes = {
        {"oversize line", "request=smtpd_access_policy\nx=" + std::string(9000, 'a') + "\n\n"},
        {"garbage", "GET / HTTP/1.0\r\n\r\n"},
        {"NUL", [] {
             static const char with_nul[] = "request=smtpd_access_policy\nsender=a\0b\n\n";
             return std::string(with_nul, sizeof with_nul - 1);
         }()},
        {"no request", "protocol_state=RCPT\n\n"},
        {"bare CR", "request=smtpd_access_policy\rprotocol_state=RCPT\n\n"},
    };
    Fd other = connect_to(h.address());  // opened before, served after
    for (const auto& [name, input] : shapes) {
        SCOPED_TRACE(name);
        const auto before = metric("policy-malformed");
        Fd c = connect_to(h.address());
        send_all(c, input);
        EXPECT_TRUE(closed_without_reply(c));
        EXPECT_EQ(metric("policy-malformed") - before, 1);
        send_all(other, kRequest);
        auto r = read_replies(other, 1);
        ASSERT_EQ(r.replies.size(), 1u);
        EXPECT_EQ(r.replies[0], "action=DUNNO");
    }
}

TEST_P(PolicyServerLoops, EarlierRepliesAreFlushedBeforeTheMalformedClose) {
    Harness h(fast());
    Fd c = connect_to(h.address());
    send_all(c, kRequest + "no equals sign\n\n");
    auto r = read_replies(c, 2);
    ASSERT_EQ(r.replies.size(), 1u);
    EXPECT_EQ(r.replies[0], "action=DUNNO");
    EXPECT_TRUE(r.closed);
}

TEST_P(PolicyServerLoops, EvaluatorExceptionClosesThatConnectionOnly) {
    Harness h(fast());
    Fd c = connect_to(h.address());
    send_all(c, request_to("throw@example.net"));
    EXPECT_TRUE(closed_without_reply(c));
    Fd d = connect_to(h.address());
    send_all(d, kRequest);
    EXPECT_EQ(read_replies(d, 1).replies.size(), 1u);
}

TEST_P(PolicyServerLoops, IdleTimeoutClosesAndRequestsBeforeItAreServed) {
    auto s = fast();
    s.idle_timeout = 400ms;
    Harness h(s);
    Fd c = connect_to(h.address());
    send_all(c, kRequest);
    ASSERT_EQ(read_replies(c, 1).replies.size(), 1u);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(closed_without_reply(c, 2s));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

TEST_P(PolicyServerLoops, DripIsClosedAtTheRequestDeadline) {
    auto s = fast();
    s.idle_timeout = 5000ms;
    s.request_timeout = 500ms;
    Harness h(s);
    Fd c = connect_to(h.address());
    const auto start = std::chrono::steady_clock::now();
    std::string req = kRequest;
    bool closed = false;
    // One byte every 50 ms keeps the connection busy, never idle; the request deadline ends it.
    for (std::size_t i = 0; i < req.size() - 1 && !closed; ++i) {
        send_all(c, std::string_view(req).substr(i, 1));
        auto r = read_replies(c, 1, 50ms);
        ASSERT_TRUE(r.replies.empty());
        closed = r.closed;
    }
    if (!closed) closed = closed_without_reply(c, 2s);
    EXPECT_TRUE(closed);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 450ms);
    EXPECT_LT(took, 2500ms);
}

TEST_P(PolicyServerLoops, ConnectionCap) {
    auto s = fast();
    s.max_connections = 2;
    Harness h(s);
    Fd a = connect_to(h.address()), b = connect_to(h.address());
    for (Fd* c : {&a, &b}) {  // both really accepted
        send_all(*c, kRequest);
        ASSERT_EQ(read_replies(*c, 1).replies.size(), 1u);
    }
    const auto before = metric("policy-refused");
    Fd refused = connect_to(h.address());
    EXPECT_TRUE(closed_without_reply(refused));
    EXPECT_EQ(metric("policy-refused") - before, 1);
    a.reset();
    // Once a slot is free a new connection is served (the server sees the close asynchronously).
    bool served = false;
    for (auto deadline = std::chrono::steady_clock::now() + 3s;
         !served && std::chrono::steady_clock::now() < deadline;) {
        Fd c = connect_to(h.address());
        send_all(c, kRequest);
        served = read_replies(c, 1).replies.size() == 1;
    }
    EXPECT_TRUE(served);
}

TEST_P(PolicyServerLoops, StandaloneAnswersOk) {
    auto s = fast();
    s.standalone = true;
    Harness h(s);
    Fd c = connect_to(h.address());
    send_all(c, kRequest + request_to("reject2@example.net"));
    auto r = read_replies(c, 2);
    ASSERT_EQ(r.replies.size(), 2u);
    EXPECT_EQ(r.replies[0], "action=OK");
    EXPECT_EQ(r.replies[1], "action=550 5.7.1 no reject2@example.net");
}

TEST_P(PolicyServerLoops, UnixSocketModeStaleAndRemoval) {
    const std::string path = "/tmp/mpp-policy-test-" + std::to_string(::getpid()) + ".sock";
    {  // a stale socket: bound, then its owner gone
        Fd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    }
    SocketSpec spec;
    spec.kind = SocketSpec::Kind::unix_path;
    spec.path = path;
    {
        Harness h(fast(), spec);
        EXPECT_EQ(h.address(), "unix:" + path);
        struct stat st{};
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0660u);
        Fd c = connect_to(h.address());
        ASSERT_TRUE(c);
        send_all(c, kRequest);
        auto r = read_replies(c, 1);
        ASSERT_EQ(r.replies.size(), 1u);
        EXPECT_EQ(r.replies[0], "action=DUNNO");
        // A second server on the same live path is refused.
        auto base = mpp::EventBasePtr(event_base_new());
        std::string error;
        auto second = PolicyServer::open(base.get(), spec, fast(), &stub, -1, -1, &error);
        EXPECT_EQ(second, nullptr);
        EXPECT_NE(error.find("in use"), std::string::npos) << error;
    }
    struct stat st{};
    EXPECT_NE(::stat(path.c_str(), &st), 0) << "removed on destruction";
}

// A client that sends many requests without reading its replies: the server stops reading it
// while replies wait, and every reply arrives, in order, once the client reads.
TEST_P(PolicyServerLoops, SlowReaderGetsEveryReplyInOrder) {
    Harness h(fast());
    Fd c = connect_to(h.address());
    ASSERT_TRUE(c);
    constexpr int kRequests = 40000;
    std::string burst;
    for (int i = 0; i < kRequests; ++i)
        burst += request_to(i % 1000 == 999 ? "reject" + std::to_string(i) + "@x" : "a@x");
    std::thread sender([&] { send_all(c, burst); });
    std::this_thread::sleep_for(300ms);  // replies pile up unread meanwhile
    auto r = read_replies(c, kRequests, 20s);
    sender.join();
    ASSERT_EQ(r.replies.size(), static_cast<std::size_t>(kRequests));
    for (int i = 0; i < kRequests; ++i) {
        const std::string want = i % 1000 == 999
                                     ? "action=550 5.7.1 no reject" + std::to_string(i) + "@x"
                                     : "action=DUNNO";
        ASSERT_EQ(r.replies[static_cast<std::size_t>(i)], want) << "reply " << i;
    }
}

// Connections are spread over the loops, and each is answered by its own.
TEST_P(PolicyServerLoops, ManyConnectionsAllAnswered) {
    Harness h(fast());
    std::vector<Fd> conns;
    for (int i = 0; i < 20; ++i) conns.push_back(connect_to(h.address()));
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < conns.size(); ++i)
            send_all(conns[i], request_to("reject-" + std::to_string(i) + "@x"));
        for (std::size_t i = 0; i < conns.size(); ++i) {
            auto r = read_replies(conns[i], 1);
            ASSERT_EQ(r.replies.size(), 1u);
            EXPECT_EQ(r.replies[0], "action=550 5.7.1 no reject-" + std::to_string(i) + "@x");
        }
    }
}
