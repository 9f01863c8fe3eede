// bench/trivial_policy.cc: trivial-policyd, the ceiling of the policy benchmark. It owns one
// listening socket and its client connections, in one thread on one epoll loop, and answers
// "action=DUNNO" to every complete Postfix policy request (attribute lines ended by an empty
// line) without looking at it: the fastest a policy server can be on this machine.
//
// usage: trivial-policyd HOST:PORT   (port 0: any free port; "listening on HOST:PORT" is printed
// on stdout once it accepts). SIGTERM or SIGINT stops it with status 0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "lib/fd.h"

namespace {

using mpp::Fd;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "trivial-policyd: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

constexpr char kReply[] = "action=DUNNO\n\n";
constexpr size_t kReplyLen = sizeof kReply - 1;

struct Client {
    Fd fd;
    bool after_newline = false;  // the last byte read was '\n'
    size_t owed = 0;             // replies not written yet
    size_t partial = 0;          // bytes of the first owed reply already written
    bool out_armed = false;      // EPOLLOUT is in its event mask
};

// Writes the replies owed; false when the connection is broken.
bool write_owed(Client& c) {
    while (c.owed > 0) {
        // Up to 64 replies per write: requests pipelined by a client are answered in one go.
        char buf[kReplyLen * 64];
        const size_t n = std::min<size_t>(c.owed, 64);
        for (size_t i = 0; i < n; ++i) std::memcpy(buf + i * kReplyLen, kReply, kReplyLen);
        const size_t len = n * kReplyLen - c.partial;
        const ssize_t w = ::send(c.fd.get(), buf + c.partial, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        const size_t done = c.partial + size_t(w);
        c.owed -= done / kReplyLen;
        c.partial = done % kReplyLen;
        if (size_t(w) < len) return true;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: trivial-policyd HOST:PORT\n");
        return 2;
    }
    const std::string spec = argv[1];
    const auto colon = spec.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    if (colon == std::string::npos || inet_pton(AF_INET, spec.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
        std::fprintf(stderr, "trivial-policyd: want IPv4-ADDRESS:PORT, got %s\n", spec.c_str());
        return 2;
    }
    char* end = nullptr;
    const long port = std::strtol(spec.c_str() + colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == spec.c_str() + colon + 1) {
        std::fprintf(stderr, "trivial-policyd: bad port in %s\n", spec.c_str());
        return 2;
    }
    sa.sin_port = htons(uint16_t(port));

    struct sigaction act{};
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    sigaction(SIGTERM, &act, nullptr);  // no SA_RESTART: epoll_wait returns EINTR
    sigaction(SIGINT, &act, nullptr);

    Fd lfd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!lfd) die("socket");
    const int one = 1;
    setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) die(("bind " + spec).c_str());
    if (listen(lfd.get(), 1024) != 0) die("listen");
    socklen_t salen = sizeof sa;
    if (getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&sa), &salen) != 0) die("getsockname");

    Fd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep) die("epoll_create1");
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = lfd.get();
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, lfd.get(), &lev) != 0) die("epoll_ctl");

    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    std::printf("listening on %s:%u\n", addr, unsigned(ntohs(sa.sin_port)));
    std::fflush(stdout);

    std::map<int, Client> clients;
    std::vector<epoll_event> evs(256);
    char buf[16384];
    while (!g_stop) {
        const int n = epoll_wait(ep.get(), evs.data(), int(evs.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const int fd = evs[size_t(i)].data.fd;
            if (fd == lfd.get()) {
                for (;;) {
                    Fd c(accept4(lfd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
                    if (!c) break;  // EAGAIN, or a transient error: the next event retries
                    setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event ev{};
                    ev.events = EPOLLIN;
                    ev.data.fd = c.get();
                    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, c.get(), &ev) != 0) continue;
                    const int cfd = c.get();
                    clients[cfd].fd = std::move(c);
                }
                continue;
            }
            auto it = clients.find(fd);
            if (it == clients.end()) continue;
            Client& c = it->second;
            bool alive = true;
            if (evs[size_t(i)].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                for (;;) {
                    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
                    if (r > 0) {
                        for (ssize_t k = 0; k < r; ++k) {
                            const bool nl = buf[k] == '\n';
                            if (nl && c.after_newline) ++c.owed;
                            c.after_newline = nl;
                        }
                        continue;
                    }
                    if (r < 0 && errno == EINTR) continue;
                    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                    alive = false;  // EOF or error
                    break;
                }
            }
            if (alive) alive = write_owed(c);
            if (!alive) {
                clients.erase(it);  // Fd closes it, which also removes it from the epoll set
                continue;
            }
            if ((c.owed > 0) != c.out_armed) {
                c.out_armed = c.owed > 0;
                epoll_event ev{};
                ev.events = c.out_armed ? EPOLLIN | EPOLLOUT : EPOLLIN;
                ev.data.fd = fd;
                epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &ev);
            }
        }
    }
    return 0;
}
