// t/lib/control_test.cc: the control-socket wire format and the blocking client.
#include "lib/control.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "lib/fd.h"

using mpp::control::Request;
using mpp::control::Response;

TEST(ControlProtocol, RequestRoundTripsEveryByteButNul) {
    Request r;
    r.verb = "config-check";
    r.args = {"/etc/mpp/my file.xml", "100%", "tab\there", "new\nline", "\x7f\xc3\xa9", ""};
    std::string wire = mpp::control::encode_request(r);
    ASSERT_EQ(wire.back(), '\n');
    EXPECT_EQ(wire.find('\n'), wire.size() - 1) << "one line only";
    auto back = mpp::control::decode_request(wire.substr(0, wire.size() - 1));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->verb, r.verb);
    EXPECT_EQ(back->args, r.args);
}

TEST(ControlProtocol, PlainRequestIsReadable) {
    Request r{"status", {}};
    EXPECT_EQ(mpp::control::encode_request(r), "status\n");
    auto back = mpp::control::decode_request("reload  now\r");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->verb, "reload");
    ASSERT_EQ(back->args.size(), 1u);
    EXPECT_EQ(back->args[0], "now");
}

TEST(ControlProtocol, MalformedRequestsAreRefused) {
    EXPECT_FALSE(mpp::control::decode_request("").has_value());
    EXPECT_FALSE(mpp::control::decode_request("   ").has_value());
    EXPECT_FALSE(mpp::control::decode_request("status %4").has_value());
    EXPECT_FALSE(mpp::control::decode_request("status %zz").has_value());
    EXPECT_FALSE(mpp::control::decode_request("status %").has_value());
    EXPECT_FALSE(mpp::control::decode_request(std::string(mpp::control::kMaxRequest + 1, 'a')).has_value());
    EXPECT_TRUE(mpp::control::decode_request(std::string(mpp::control::kMaxRequest, 'a')).has_value());
}

TEST(ControlProtocol, ResponseLinesAndStatus) {
    Response r;
    r.ok = true;
    r.lines = {"uptime: 5s", "two\nlines"};
    r.status_text = "fine";
    EXPECT_EQ(mpp::control::encode_response(r), "| uptime: 5s\n| two lines\nOK fine\n");
    Response e;
    e.status_text = "bad\r\nthing";
    EXPECT_EQ(mpp::control::encode_response(e), "ERR bad  thing\n");
    Response bare;
    bare.ok = true;
    EXPECT_EQ(mpp::control::encode_response(bare), "OK\n");
}

namespace {

// A one-shot server on a unix socket: reads one line, answers `reply` in `chunks` pieces.
class OneShotServer {
public:
    OneShotServer(std::string reply, bool answer = true) {
        path_ = (std::filesystem::temp_directory_path() /
                 ("mpp-ctl-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)))
                    .string();
        ::unlink(path_.c_str());
        listen_.reset(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strcpy(sa.sun_path, path_.c_str());
        EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        EXPECT_EQ(::listen(listen_.get(), 1), 0);
        thread_ = std::thread([this, reply, answer] {
            mpp::Fd c(::accept(listen_.get(), nullptr, nullptr));
            char buf[8192];
            ssize_t n = ::read(c.get(), buf, sizeof buf);
            if (n > 0) received_.assign(buf, static_cast<size_t>(n));
            if (!answer) {
                ::usleep(500 * 1000);
                return;
            }
            for (char ch : reply) (void)::write(c.get(), &ch, 1);  // byte by byte
        });
    }
    ~OneShotServer() {
        join();
        ::unlink(path_.c_str());
    }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    const std::string& path() const { return path_; }
    std::string received_;

private:
    static inline int counter_ = 0;
    std::string path_;
    mpp::Fd listen_;
    std::thread thread_;
};

}  // namespace

TEST(ControlClient, ReadsDataLinesAndStatusSentInPieces) {
    OneShotServer srv("| a: 1\n| b: 2\nOK done\n");
    Response got = mpp::control::call(srv.path(), Request{"status", {}}, std::chrono::seconds(5));
    srv.join();
    EXPECT_EQ(srv.received_, "status\n");
    EXPECT_TRUE(got.ok);
    EXPECT_EQ(got.status_text, "done");
    ASSERT_EQ(got.lines.size(), 2u);
    EXPECT_EQ(got.lines[1], "b: 2");
}

TEST(ControlClient, ErrStatusIsNotATransportError) {
    OneShotServer srv("| x.xml:3: unknown element <foo>\nERR 1 error(s)\n");
    bool transport = true;
    auto got = mpp::control::call(srv.path(), Request{"config-check", {"x.xml"}},
                                  std::chrono::seconds(5), &transport);
    EXPECT_FALSE(got.ok);
    EXPECT_FALSE(transport);
    EXPECT_EQ(got.status_text, "1 error(s)");
    ASSERT_EQ(got.lines.size(), 1u);
}

TEST(ControlClient, TransportFailuresAreReported) {
    bool transport = false;
    auto got = mpp::control::call("/nonexistent/mpp.sock", Request{"status", {}},
                                  std::chrono::seconds(1), &transport);
    EXPECT_TRUE(transport);
    EXPECT_FALSE(got.ok);
    EXPECT_NE(got.status_text.find("cannot connect"), std::string::npos);

    OneShotServer silent("", false);
    got = mpp::control::call(silent.path(), Request{"status", {}}, std::chrono::milliseconds(100),
                             &transport);
    EXPECT_TRUE(transport);
    EXPECT_NE(got.status_text.find("timed out"), std::string::npos);
}

TEST(ControlClient, GarbageReplyIsATransportError) {
    OneShotServer srv("HTTP/1.0 200 OK\n");
    bool transport = false;
    auto got = mpp::control::call(srv.path(), Request{"status", {}}, std::chrono::seconds(5), &transport);
    EXPECT_TRUE(transport);
    EXPECT_NE(got.status_text.find("malformed"), std::string::npos);
}

TEST(ControlClient, ConnectionClosedBeforeStatus) {
    OneShotServer srv("| partial\n");
    bool transport = false;
    auto got = mpp::control::call(srv.path(), Request{"status", {}}, std::chrono::seconds(5), &transport);
    EXPECT_TRUE(transport);
    EXPECT_NE(got.status_text.find("closed"), std::string::npos);
}
