// engines/engine_socket.cc: connect, write and read with a deadline (see engine_socket.h).
#include "engines/engine_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "lib/socket_spec.h"

namespace mpp::engines {
namespace {

using std::chrono::steady_clock;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Waits until `fd` is ready for `events` or the deadline passes: 1 ready (or in error: the
// next call on the fd says which), 0 deadline, -1 poll failed (errno).
int wait_fd(int fd, short events, Deadline deadline) {
    for (;;) {
        auto left = deadline - steady_clock::now();
        if (left <= steady_clock::duration::zero()) return 0;
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, INT_MAX)));
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -1;
        // r == 0: time is up by poll's clock; the loop checks the steady clock again.
    }
}

struct Target {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

// What a host name lookup running on its own thread shares with the caller who waits for it.
// Whoever finishes last frees it (shared_ptr): a caller past its deadline just goes away.
struct Lookup {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    int rc = 0;
    std::vector<Target> targets;
};

constexpr std::size_t kMaxTargets = 16;  // addresses of one name that are tried

bool lookup_name(const std::string& host, unsigned port, Deadline deadline,
                 steady_clock::time_point start, std::vector<Target>& out,
                 const std::string& address, std::string* error) {
    auto state = std::make_shared<Lookup>();
    try {
        std::thread([state, host, port] {
            addrinfo hints{};
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            hints.ai_flags = AI_NUMERICSERV;
            addrinfo* res = nullptr;
            std::string service = std::to_string(port);
            int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
            std::vector<Target> targets;
            for (addrinfo* ai = res; rc == 0 && ai && targets.size() < kMaxTargets;
                 ai = ai->ai_next) {
                if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
                Target t;
                std::memcpy(&t.addr, ai->ai_addr, ai->ai_addrlen);
                t.len = ai->ai_addrlen;
                targets.push_back(t);
            }
            if (res) ::freeaddrinfo(res);
            std::lock_guard lock(state->mutex);
            state->rc = rc;
            state->targets = std::move(targets);
            state->done = true;
            state->done_cv.notify_all();
        }).detach();
    } catch (const std::system_error& e) {
        *error = "look up " + address + ": cannot start a thread: " + e.what();
        return false;
    }
    std::unique_lock lock(state->mutex);
    if (!state->done_cv.wait_until(lock, deadline, [&] { return state->done; })) {
        *error = "timeout after " + seconds_text(deadline - start) + " while looking up " +
                 address;
        return false;
    }
    if (state->rc != 0) {
        *error = "look up " + address + ": " + ::gai_strerror(state->rc);
        return false;
    }
    if (state->targets.empty()) {
        *error = "look up " + address + ": no address";
        return false;
    }
    out = std::move(state->targets);
    return true;
}

// The addresses to try for a parsed spec.
bool targets_of(const SocketSpec& spec, Deadline deadline, steady_clock::time_point start,
                std::vector<Target>& out, const std::string& address, std::string* error) {
    Target t;
    if (spec.kind == SocketSpec::Kind::unix_path) {
        auto* un = reinterpret_cast<sockaddr_un*>(&t.addr);
        un->sun_family = AF_UNIX;
        if (spec.path.size() >= sizeof un->sun_path) {  // parse_listen checked; kept for safety
            *error = "bad address " + address + ": socket path too long";
            return false;
        }
        std::memcpy(un->sun_path, spec.path.data(), spec.path.size());
        t.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + spec.path.size() + 1);
        out.push_back(t);
        return true;
    }
    if (spec.host.empty()) {
        *error = "bad address " + address + ": no host to connect to";
        return false;
    }
    auto* in4 = reinterpret_cast<sockaddr_in*>(&t.addr);
    if (::inet_pton(AF_INET, spec.host.c_str(), &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(static_cast<std::uint16_t>(spec.port));
        t.len = sizeof(sockaddr_in);
        out.push_back(t);
        return true;
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
    if (::inet_pton(AF_INET6, spec.host.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(static_cast<std::uint16_t>(spec.port));
        t.len = sizeof(sockaddr_in6);
        out.push_back(t);
        return true;
    }
    return lookup_name(spec.host, spec.port, deadline, start, out, address, error);
}

// One connection attempt; an invalid Fd with *error (and *timed_out at the deadline).
Fd connect_one(const Target& t, Deadline deadline, const std::string& address, bool* timed_out,
               std::string* error) {
    int family = reinterpret_cast<const sockaddr*>(&t.addr)->sa_family;
    Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        *error = "socket for " + address + ": " + errno_text(errno);
        return Fd();
    }
    if (family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&t.addr), t.len) == 0) return fd;
    if (errno != EINPROGRESS && errno != EINTR) {
        *error = "connect " + address + ": " + errno_text(errno);
        return Fd();
    }
    int r = wait_fd(fd.get(), POLLOUT, deadline);
    if (r == 0) {
        *timed_out = true;
        return Fd();
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (r < 0) {
        err = errno;
    } else if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        *error = "connect " + address + ": " + errno_text(err);
        return Fd();
    }
    return fd;
}

}  // namespace

std::string seconds_text(steady_clock::duration d) {
    auto tenths = std::max<long long>(
        0, (std::chrono::duration_cast<std::chrono::milliseconds>(d).count() + 50) / 100);
    std::string s = std::to_string(tenths / 10);
    if (tenths % 10 != 0) s += "." + std::to_string(tenths % 10);
    return s + "s";
}

std::string EngineSocket::timeout(Deadline deadline, const char* doing) const {
    return "timeout after " + seconds_text(deadline - start_) + " while " + doing + " " +
           address_;
}

std::optional<EngineSocket> EngineSocket::connect(std::string_view address, Deadline deadline,
                                                  std::string* error) {
    const auto start = steady_clock::now();
    const std::string addr(address);
    std::string why;
    auto spec = SocketSpec::parse_listen(address, &why);
    if (!spec) {
        *error = why;
        return std::nullopt;
    }
    std::vector<Target> targets;
    if (!targets_of(*spec, deadline, start, targets, addr, error)) return std::nullopt;
    std::string last;
    for (const auto& t : targets) {
        bool timed_out = false;
        Fd fd = connect_one(t, deadline, addr, &timed_out, &last);
        if (fd) return EngineSocket(std::move(fd), addr, start);
        if (timed_out || steady_clock::now() >= deadline) {
            *error = "timeout after " + seconds_text(deadline - start) + " while connecting to " +
                     addr;
            return std::nullopt;
        }
    }
    *error = last;
    return std::nullopt;
}

bool EngineSocket::write_all(std::string_view data, Deadline deadline, std::string* error) {
    while (!data.empty()) {
        if (steady_clock::now() >= deadline) {
            *error = timeout(deadline, "writing to");
            return false;
        }
        ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd_.get(), POLLOUT, deadline);
            if (r == 0) {
                *error = timeout(deadline, "writing to");
                return false;
            }
            if (r < 0) {
                *error = "write to " + address_ + ": " + errno_text(errno);
                return false;
            }
            continue;
        }
        *error = "write to " + address_ + ": " + errno_text(n < 0 ? errno : EPIPE);
        return false;
    }
    return true;
}

long EngineSocket::read_some(char* out, std::size_t n, Deadline deadline, std::string* error) {
    for (;;) {
        if (steady_clock::now() >= deadline) {
            *error = timeout(deadline, "reading from");
            return -1;
        }
        ssize_t got = ::recv(fd_.get(), out, n, 0);
        if (got >= 0) return static_cast<long>(got);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *error = "read from " + address_ + ": " + errno_text(errno);
            return -1;
        }
        int r = wait_fd(fd_.get(), POLLIN, deadline);
        if (r == 0) {
            *error = timeout(deadline, "reading from");
            return -1;
        }
        if (r < 0) {
            *error = "read from " + address_ + ": " + errno_text(errno);
            return -1;
        }
    }
}

bool EngineSocket::read_until_eof(std::string& out, std::size_t max, Deadline deadline,
                                  std::string* error) {
    char buf[16 * 1024];
    for (;;) {
        long got = read_some(buf, sizeof buf, deadline, error);
        if (got < 0) return false;
        if (got == 0) return true;
        std::size_t room = max + 1 - std::min(out.size(), max + 1);
        out.append(buf, std::min(static_cast<std::size_t>(got), room));
        if (out.size() > max) {
            *error = "answer from " + address_ + " longer than " + std::to_string(max) + " bytes";
            return false;
        }
    }
}

void EngineSocket::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

}  // namespace mpp::engines
