// policy/policy_server.cc: the policy server's listening socket and the hand-over of accepted
// connections to its loops (see policy_server.h; connections in policy_conn.cc).
#include "policy/policy_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/fd.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/quote.h"
#include "policy/policy_conn.h"

namespace mpp::policy {

namespace {

metrics::Metric& m_connections() { return metrics::get("policy-connections"); }
metrics::Metric& m_open() { return metrics::get("policy-connections-open"); }
metrics::Metric& m_refused() { return metrics::get("policy-refused"); }

std::string peer_name(const sockaddr* sa) {
    char host[INET6_ADDRSTRLEN] = "";
    if (sa && sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (sa && sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return "unix";
}

// Removes a unix socket left by a daemon that is gone; refuses when one still answers there.
bool clear_stale(const std::string& path, const sockaddr_un& sa, std::string* error) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return true;
    if (!S_ISSOCK(st.st_mode)) {
        *error = path + " exists and is not a socket";
        return false;
    }
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) {
        *error = "policy socket " + path + " is in use: is another mppd running?";
        return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        *error = "cannot remove stale " + path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

Fd bind_unix(const std::string& path, uid_t uid, gid_t gid, std::string* error) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
        *error = "policy socket path empty or too long: " + path;
        return Fd();
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (!clear_stale(path, sa, error)) return Fd();
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        *error = std::string("socket: ") + std::strerror(errno);
        return Fd();
    }
    // Created with no access at all, then opened up to 0660: never briefly world-writable.
    mode_t old = ::umask(0777);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    ::umask(old);
    if (rc != 0 || ::chmod(path.c_str(), 0660) != 0 ||
        ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
         ::chown(path.c_str(), uid, gid) != 0)) {
        *error = "cannot bind policy socket " + path + ": " + std::strerror(errno);
        if (rc == 0) ::unlink(path.c_str());
        return Fd();
    }
    return fd;
}

Fd bind_inet(const SocketSpec& spec, std::string* address, std::string* error) {
    addrinfo hints{};
    hints.ai_family = spec.kind == SocketSpec::Kind::inet6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(spec.port);
    int rc = ::getaddrinfo(spec.host.empty() ? nullptr : spec.host.c_str(), port.c_str(), &hints,
                           &res);
    if (rc != 0) {
        *error = "policy server: cannot resolve " + quoted(spec.str()) + ": " + gai_strerror(rc);
        return Fd();
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(res, &::freeaddrinfo);
    int err = 0;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd) continue;
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // One reply is one write, but pipelined replies must not wait for a delayed ACK.
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            continue;
        }
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        *address = peer_name(reinterpret_cast<sockaddr*>(&ss));
        return fd;
    }
    *error = "cannot bind policy socket " + spec.str() + ": " + std::strerror(err ? err : EINVAL);
    return Fd();
}

}  // namespace

PolicyServer::PolicyServer(Private, event_base* base, Settings settings, Evaluator evaluator)
    : base_(base), settings_(settings), evaluator_(std::move(evaluator)) {}

PolicyServer::~PolicyServer() {
    stop_accepting();
    loops_.clear();  // loop threads stop and join; every connection is closed
}

std::unique_ptr<PolicyServer> PolicyServer::open(event_base* base, const SocketSpec& listen,
                                                 Settings settings, Evaluator evaluator,
                                                 uid_t uid, gid_t gid, std::string* error) {
    auto server = std::make_unique<PolicyServer>(Private{}, base, settings, std::move(evaluator));
    Fd fd;
    if (listen.kind == SocketSpec::Kind::unix_path) {
        fd = bind_unix(listen.path, uid, gid, error);
        if (fd) {
            server->unix_path_ = listen.path;
            server->address_ = "unix:" + listen.path;
        }
    } else {
        fd = bind_inet(listen, &server->address_, error);
    }
    if (!fd) return nullptr;
    if (::listen(fd.get(), 128) != 0) {
        *error = "listen on policy socket " + server->address_ + ": " + std::strerror(errno);
        return nullptr;
    }
    if (!server->start_loops(settings.threads, error)) return nullptr;
    server->listener_.reset(evconnlistener_new(base, &PolicyServer::on_accept, server.get(),
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                               fd.get()));
    if (!server->listener_) {
        *error = "evconnlistener_new failed for the policy socket";
        return nullptr;
    }
    fd.release();  // the listener owns it now
    return server;
}

bool PolicyServer::start_loops(int threads, std::string* error) {
    if (threads <= 0) {
        loops_.push_back(std::make_unique<Loop>(*this, base_));
        return true;
    }
    for (int i = 0; i < threads; ++i) {
        auto loop = std::make_unique<Loop>(*this, nullptr);
        if (!loop->start(error)) return false;
        loops_.push_back(std::move(loop));
    }
    return true;
}

void PolicyServer::update(Settings settings) {
    std::lock_guard lock(settings_mutex_);
    settings.threads = settings_.threads;
    settings_ = settings;
}

PolicyServer::Settings PolicyServer::settings() const {
    std::lock_guard lock(settings_mutex_);
    return settings_;
}

void PolicyServer::stop_accepting() {
    listener_.reset();
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    unix_path_.clear();
    address_.clear();
}

void PolicyServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<PolicyServer*>(arg);
    try {
        self->accept_conn(fd);  // owns fd from here on, on every path
    } catch (const std::exception& e) {
        log::error(log::cat("policy: accept: internal error: ", e.what()));
    } catch (...) {
        log::error("policy: accept: internal error");
    }
}

void PolicyServer::accept_conn(evutil_socket_t fd) {
    Fd owned(fd);
    const int max = settings().max_connections;
    if (open_.load() >= max) {
        m_refused().inc();
        if (!at_cap_)
            log::warning(log::cat("policy: ", open_.load(), " connections (max-connections ", max,
                                  "): refusing new ones"));
        at_cap_ = true;
        return;  // closed at once
    }
    if (at_cap_) {
        at_cap_ = false;
        log::notice(log::cat("policy: below max-connections again (", open_.load(), " open)"));
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    std::string peer = peer_name(reinterpret_cast<sockaddr*>(&ss));
    ++open_;  // the connection's slot, given back by ~Conn (or by a loop that drops it)
    m_open().inc();
    m_connections().inc();
    Loop& loop = *loops_[next_loop_++ % loops_.size()];
    if (loop.owned)
        loop.hand_over(std::move(owned), std::move(peer));
    else
        loop.adopt(std::move(owned), std::move(peer));
}

}  // namespace mpp::policy
