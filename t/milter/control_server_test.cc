// t/milter/control_server_test.cc: the control socket served on a real event loop.
#include "milter/control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include "lib/control.h"
#include "lib/fd.h"

namespace {

std::string temp_path(const char* tag) {
    static int n = 0;
    return (std::filesystem::temp_directory_path() /
            (std::string("mpp-cs-") + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
        .string();
}

// An event loop on its own thread serving one ControlServer; stopped and joined on destruction.
class LoopThread {
public:
    explicit LoopThread(std::string path) : path_(std::move(path)) {
        base_.reset(event_base_new());
        std::string err;
        server_ = mpp::ControlServer::open(base_.get(), path_, 0660, static_cast<uid_t>(-1),
                                           static_cast<gid_t>(-1), &err);
        EXPECT_TRUE(server_) << err;
        if (!server_) return;
        server_->add_verb("echo", "echo ARGS  answer the arguments", [](const mpp::control::Request& r) {
            mpp::control::Response resp;
            resp.ok = true;
            resp.lines = r.args;
            return resp;
        });
        server_->add_verb("boom", "boom  throw", [](const mpp::control::Request&) -> mpp::control::Response {
            throw std::runtime_error("kaput");
        });
        // A persistent timer keeps the loop alive and lets the destructor stop it.
        tick_.reset(event_new(base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void* a) {
            auto* self = static_cast<LoopThread*>(a);
            if (self->stop_) event_base_loopbreak(self->base_.get());
        }, this));
        timeval tv{0, 10000};
        event_add(tick_.get(), &tv);
        thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
    }
    ~LoopThread() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        tick_.reset();
        server_.reset();
    }
    mpp::control::Response call(const std::string& verb, std::vector<std::string> args = {}) {
        return mpp::control::call(path_, mpp::control::Request{verb, std::move(args)},
                                  std::chrono::seconds(5));
    }
    const std::string& path() const { return path_; }
    bool ok() const { return server_ != nullptr; }

private:
    std::string path_;
    mpp::EventBasePtr base_;
    std::unique_ptr<mpp::ControlServer> server_;
    mpp::EventPtr tick_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// A client connection to the unix socket at `path` (empty Fd when it fails).
mpp::Fd connect_unix(const std::string& path) {
    mpp::Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strcpy(sa.sun_path, path.c_str());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fd.reset();
    return fd;
}

}  // namespace

TEST(ControlServer, AnswersRegisteredVerbsAndHelp) {
    LoopThread loop(temp_path("verbs"));
    ASSERT_TRUE(loop.ok());
    auto r = loop.call("echo", {"a b", "c"});
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"a b", "c"}));

    r = loop.call("help");
    EXPECT_TRUE(r.ok);
    ASSERT_EQ(r.lines.size(), 3u);
    EXPECT_EQ(r.lines[1], "echo ARGS  answer the arguments");

    r = loop.call("nosuchverb");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.status_text, "unknown verb \"nosuchverb\" (try help)");
}

TEST(ControlServer, HandlerExceptionIsAnErrNotACrash) {
    LoopThread loop(temp_path("boom"));
    ASSERT_TRUE(loop.ok());
    auto r = loop.call("boom");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.status_text, "internal error: kaput");
    EXPECT_TRUE(loop.call("echo").ok) << "still serving";
}

TEST(ControlServer, SocketHasTheConfiguredMode) {
    LoopThread loop(temp_path("mode"));
    ASSERT_TRUE(loop.ok());
    struct stat st{};
    ASSERT_EQ(::stat(loop.path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(ControlServer, OverlongRequestGetsErrAndClose) {
    LoopThread loop(temp_path("long"));
    ASSERT_TRUE(loop.ok());
    mpp::Fd fd = connect_unix(loop.path());
    ASSERT_TRUE(fd);
    std::string big(mpp::control::kMaxRequest + 100, 'x');
    ASSERT_EQ(::send(fd.get(), big.data(), big.size(), MSG_NOSIGNAL), static_cast<ssize_t>(big.size()));
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(got, "ERR request too long\n");  // and then EOF: the loop above ended
    EXPECT_TRUE(loop.call("echo").ok);
}

TEST(ControlServer, ManyRequestsOnOneConnection) {
    LoopThread loop(temp_path("pipe"));
    ASSERT_TRUE(loop.ok());
    mpp::Fd fd = connect_unix(loop.path());
    ASSERT_TRUE(fd);
    std::string two = "echo 1\necho 2\n";
    ASSERT_EQ(::send(fd.get(), two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
    std::string got;
    char buf[256];
    while (got != "| 1\nOK\n| 2\nOK\n") {
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        ASSERT_GT(n, 0) << "got so far: " << got;
        got.append(buf, static_cast<size_t>(n));
        ASSERT_LE(got.size(), 16u);
    }
}

TEST(ControlServer, ReplacesAStaleSocketButNotALiveOne) {
    std::string path = temp_path("stale");
    {
        // A socket file nobody listens on: what a killed daemon leaves behind.
        mpp::Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strcpy(sa.sun_path, path.c_str());
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    }
    LoopThread live(path);
    ASSERT_TRUE(live.ok());
    EXPECT_TRUE(live.call("echo").ok);

    mpp::EventBasePtr base(event_base_new());
    std::string err;
    auto second = mpp::ControlServer::open(base.get(), path, 0660, static_cast<uid_t>(-1),
                                           static_cast<gid_t>(-1), &err);
    EXPECT_FALSE(second);
    EXPECT_NE(err.find("is in use"), std::string::npos) << err;
    EXPECT_TRUE(live.call("echo").ok) << "the live server keeps its socket";
}

TEST(ControlServer, RefusesAPathThatIsNotASocket) {
    std::string path = temp_path("file");
    { FILE* f = std::fopen(path.c_str(), "w"); ASSERT_TRUE(f); std::fclose(f); }
    mpp::EventBasePtr base(event_base_new());
    std::string err;
    auto s = mpp::ControlServer::open(base.get(), path, 0660, static_cast<uid_t>(-1),
                                      static_cast<gid_t>(-1), &err);
    EXPECT_FALSE(s);
    EXPECT_NE(err.find("not a socket"), std::string::npos) << err;
    ::unlink(path.c_str());
}
