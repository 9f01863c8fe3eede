// policy/policy_server.cc: the policy server's sockets, connections and timers (see
// policy_server.h). Every libevent callback here is a trampoline: it catches everything, logs,
// and closes that connection.
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
#include "policy/policy_request.h"

namespace mpp::policy {

struct PolicyServer::Conn {
    PolicyServer* server = nullptr;
    BufferEventPtr bev;
    EventPtr timer;
    PolicyRequestParser parser;
    std::string peer;                 // "192.0.2.1:4711", "unix" (for log lines)
    bool closing = false;             // close once the output buffer is flushed
    bool throttled = false;           // reading paused: the client does not read its replies
    bool in_request = false;          // the request deadline runs
    std::chrono::steady_clock::time_point request_deadline;
};

namespace {

metrics::Metric& m_connections() { return metrics::get("policy-connections"); }
metrics::Metric& m_open() { return metrics::get("policy-connections-open"); }
metrics::Metric& m_requests() { return metrics::get("policy-requests"); }
metrics::Metric& m_malformed() { return metrics::get("policy-malformed"); }
metrics::Metric& m_refused() { return metrics::get("policy-refused"); }

timeval to_timeval(std::chrono::milliseconds ms) {
    if (ms.count() < 0) ms = std::chrono::milliseconds(0);
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

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
    conns_.clear();
    stop_accepting();
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
    if (conns_.size() >= static_cast<std::size_t>(settings_.max_connections)) {
        m_refused().inc();
        if (!at_cap_)
            log::warning(log::cat("policy: ", conns_.size(), " connections (max-connections ",
                                  settings_.max_connections, "): refusing new ones"));
        at_cap_ = true;
        return;  // closed at once
    }
    if (at_cap_) {
        at_cap_ = false;
        log::notice(log::cat("policy: below max-connections again (", conns_.size(), " open)"));
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    auto conn = std::make_unique<Conn>();
    conn->server = this;
    conn->peer = peer_name(reinterpret_cast<sockaddr*>(&ss));
    conn->bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!conn->bev) return;
    owned.release();
    conn->timer.reset(evtimer_new(base_, &PolicyServer::on_timer, conn.get()));
    if (!conn->timer) return;  // the bufferevent closes the socket
    Conn* c = conn.get();
    bufferevent_setcb(c->bev.get(), &PolicyServer::on_read, &PolicyServer::on_write,
                      &PolicyServer::on_event, c);
    bufferevent_enable(c->bev.get(), EV_READ | EV_WRITE);
    conns_.emplace(c, std::move(conn));
    m_connections().inc();
    m_open().inc();
    arm_timer(c);
}

void PolicyServer::close_conn(Conn* c) {
    if (conns_.erase(c) > 0) m_open().dec();
}

// The idle timeout between requests, the request deadline from a request's first byte, and
// while closing the same deadline for the client to take its replies.
void PolicyServer::arm_timer(Conn* c) {
    using namespace std::chrono;
    milliseconds wait = settings_.idle_timeout;
    if (c->closing || c->in_request)
        wait = duration_cast<milliseconds>(c->request_deadline - steady_clock::now());
    timeval tv = to_timeval(wait);
    evtimer_add(c->timer.get(), &tv);
}

void PolicyServer::read_requests(Conn* c) {
    bufferevent* bev = c->bev.get();
    evbuffer* in = bufferevent_get_input(bev);
    evbuffer* out = bufferevent_get_output(bev);
    while (!c->closing && evbuffer_get_length(in) > 0) {
        if (evbuffer_get_length(out) > kMaxPendingOutput) {
            c->throttled = true;
            bufferevent_disable(bev, EV_READ);
            break;
        }
        evbuffer_iovec v{};
        if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) break;
        if (!c->in_request) {
            c->in_request = true;
            c->request_deadline = std::chrono::steady_clock::now() + settings_.request_timeout;
        }
        auto step = c->parser.feed(std::string_view(static_cast<const char*>(v.iov_base),
                                                    v.iov_len));
        evbuffer_drain(in, step.consumed);
        if (step.status == PolicyRequestParser::Status::malformed) {
            malformed(c, c->parser.error());
            return;  // c may be gone
        }
        if (step.status == PolicyRequestParser::Status::complete) {
            c->in_request = false;
            answer(c);
        }
    }
    arm_timer(c);
}

void PolicyServer::answer(Conn* c) {
    PolicyRequest req = c->parser.take();
    const Transaction t = to_transaction(req);
    const Verdict v = evaluator_(t);
    const bool standalone = settings_.standalone;
    const std::string action = reply_for(v, standalone);
    const std::string reply = "action=" + action + "\n\n";
    bufferevent_write(c->bev.get(), reply.data(), reply.size());
    m_requests().inc();

    const std::string who = log::cat("client=", req.client_name.empty() ? "unknown" : req.client_name,
                                     "[", req.client_address, "] from=<", req.sender, "> to=<",
                                     req.recipient, "> protocol_state=", req.protocol_state);
    if (log::enabled(log::Level::debug))
        log::write_qid(log::Level::debug, req.queue_id,
                       log::cat("policy request ", who, " helo=<", req.helo_name, "> sasl=<",
                                req.sasl_username, "> instance=", req.instance, " peer=", c->peer,
                                " action=", action));
    const bool plain = action == "DUNNO" || (standalone && action == "OK" &&
                                             v.action == Action::none && !v.shadow);
    if (!plain || v.shadow) {
        std::string line = log::cat("policy ", who, " action=", action);
        if (!v.check.empty()) line += " check=" + v.check;
        if (!v.reason.empty()) line += " reason=" + quoted(v.reason);
        if (v.shadow) line += log::cat(" shadow=", action_name(v.action));
        // The engine logs each decision (one line per decision); this one, with the reply as
        // sent, is for debugging the protocol.
        log::write_qid(log::Level::debug, req.queue_id, line);
    }
    if (const auto dropped = dropped_prepends(v, standalone); dropped > 0)
        log::write_qid(log::Level::debug, req.queue_id,
                       log::cat("policy: ", dropped, " PREPEND header(s) not sent: one action "
                                "per reply"));
}

void PolicyServer::malformed(Conn* c, const std::string& why) {
    m_malformed().inc();
    log::warning(log::cat("policy: malformed request from ", c->peer, ": ", why,
                          "; connection closed without a reply"));
    c->closing = true;
    bufferevent_disable(c->bev.get(), EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev.get())) == 0) {
        close_conn(c);
        return;
    }
    c->request_deadline = std::chrono::steady_clock::now() + settings_.request_timeout;
    arm_timer(c);  // earlier replies are flushed first, within the request deadline
}

void PolicyServer::on_read(bufferevent*, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    PolicyServer* self = c->server;
    try {
        self->read_requests(c);
    } catch (const std::exception& e) {
        log::error(log::cat("policy: ", c->peer, ": internal error: ", e.what(),
                            "; connection closed"));
        self->close_conn(c);
    } catch (...) {
        log::error(log::cat("policy: ", c->peer, ": internal error; connection closed"));
        self->close_conn(c);
    }
}

void PolicyServer::on_write(bufferevent*, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    PolicyServer* self = c->server;
    try {
        if (c->closing) {
            self->close_conn(c);
        } else if (c->throttled) {
            c->throttled = false;
            bufferevent_enable(c->bev.get(), EV_READ);
            self->read_requests(c);  // what was already read
        }
    } catch (...) {
        log::error(log::cat("policy: ", c->peer, ": internal error; connection closed"));
        self->close_conn(c);
    }
}

void PolicyServer::on_event(bufferevent*, short what, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    try {
        if ((what & BEV_EVENT_EOF) && c->in_request)
            log::debug(log::cat("policy: ", c->peer, ": connection closed inside a request"));
    } catch (...) {
    }
    c->server->close_conn(c);  // EOF or error
}

void PolicyServer::on_timer(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    try {
        const auto& s = c->server->settings_;
        if (c->in_request && !c->closing)
            log::warning(log::cat("policy: ", c->peer, ": request not complete within ",
                                  s.request_timeout.count(), "ms; connection closed"));
        else if (!c->closing)
            log::debug(log::cat("policy: ", c->peer, ": idle for ", s.idle_timeout.count(),
                                "ms; connection closed"));
    } catch (...) {
    }
    c->server->close_conn(c);
}

}  // namespace mpp::policy
