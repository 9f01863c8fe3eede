// t/milter/milter_runner_test.cc: TCP_NODELAY on the milter's listening socket.
//
// Without it, an end-of-message answer of more than one packet (a header change, then the
// verdict) waits for the MTA's delayed ACK: ~40 ms per message. Linux copies TCP_NODELAY from
// a listening socket to the sockets accept() returns, which is what the runner relies on.
#include "milter/milter_runner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "lib/fd.h"

namespace {

int nodelay(int fd) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v;
}

}  // namespace

TEST(MilterRunner, SetsNodelayOnTheListenerAndAcceptedSocketsInheritIt) {
    mpp::Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(listener.get(), 4), 0);
    socklen_t sl = sizeof sa;
    ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &sl), 0);
    const unsigned port = ntohs(sa.sin_port);

    // A non-listening socket bound elsewhere and a listener on another port are left alone.
    mpp::Fd other(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(nodelay(listener.get()), 0);
    EXPECT_FALSE(mpp::milter::set_nodelay_on_listener(port == 65535 ? 1 : port + 1));
    EXPECT_EQ(nodelay(listener.get()), 0);

    EXPECT_TRUE(mpp::milter::set_nodelay_on_listener(port));
    EXPECT_NE(nodelay(listener.get()), 0);
    EXPECT_EQ(nodelay(other.get()), 0);

    mpp::Fd client(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    mpp::Fd accepted(::accept(listener.get(), nullptr, nullptr));
    ASSERT_TRUE(accepted);
    EXPECT_NE(nodelay(accepted.get()), 0) << "accepted sockets inherit TCP_NODELAY";
}
