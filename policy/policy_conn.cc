// policy/policy_conn.cc: the policy server's loops and connections (see policy_conn.h and
// policy_server.h). Every libevent callback here is a trampoline: it catches everything, logs,
// and closes that connection.
#include "policy/policy_conn.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/quote.h"
#include "policy/policy_reply.h"

namespace mpp::policy {
namespace {

metrics::Metric& m_open() { return metrics::get("policy-connections-open"); }
metrics::Metric& m_requests() { return metrics::get("policy-requests"); }
metrics::Metric& m_malformed() { return metrics::get("policy-malformed"); }

timeval to_timeval(std::chrono::milliseconds ms) {
    if (ms.count() < 0) ms = std::chrono::milliseconds(0);
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// A connection that never became a Conn gives its slot back.
void release_slot(std::atomic<int>& open) {
    --open;
    m_open().dec();
}

constexpr std::size_t kReadSize = 16 * 1024;

}  // namespace

// ---- Loop -------------------------------------------------------------------------------

PolicyServer::Loop::~Loop() {
    if (thread.joinable()) {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        const char byte = 's';
        (void)!::write(wake_write.get(), &byte, 1);
        thread.join();  // on_wake closed every connection and ended the loop
    }
    conns.clear();
    for (std::size_t i = 0; i < incoming.size(); ++i) release_slot(server.open_);
    incoming.clear();
}

bool PolicyServer::Loop::start(std::string* error) {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        *error = std::string("policy server: pipe: ") + std::strerror(errno);
        return false;
    }
    wake_read.reset(fds[0]);
    wake_write.reset(fds[1]);
    owned.reset(event_base_new());
    base = owned.get();
    if (base) wake.reset(event_new(base, wake_read.get(), EV_READ | EV_PERSIST, &Loop::on_wake, this));
    if (!wake || event_add(wake.get(), nullptr) != 0) {
        *error = "policy server: cannot create a loop thread's event base";
        return false;
    }
    thread = std::thread([this] {
        // Signals are the main thread's business (see milter/milter_runner.h).
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        event_base_dispatch(base);  // until on_wake sees `stopping`
    });
    return true;
}

void PolicyServer::Loop::hand_over(Fd fd, std::string peer) {
    {
        std::lock_guard lock(mutex);
        if (stopping) {
            release_slot(server.open_);
            return;  // fd closes
        }
        incoming.emplace_back(std::move(fd), std::move(peer));
    }
    const char byte = 'c';
    (void)!::write(wake_write.get(), &byte, 1);  // a full pipe already has a wake-up pending
}

void PolicyServer::Loop::on_wake(evutil_socket_t fd, short, void* arg) {
    auto* loop = static_cast<Loop*>(arg);
    char drain[256];
    while (::read(fd, drain, sizeof drain) > 0) {
    }
    std::vector<std::pair<Fd, std::string>> taken;
    bool stop = false;
    {
        std::lock_guard lock(loop->mutex);
        taken.swap(loop->incoming);
        stop = loop->stopping;
    }
    if (stop) {
        for (std::size_t i = 0; i < taken.size(); ++i) release_slot(loop->server.open_);
        loop->conns.clear();
        event_base_loopbreak(loop->base);
        return;
    }
    for (auto& [conn_fd, peer] : taken) {
        try {
            loop->adopt(std::move(conn_fd), std::move(peer));
        } catch (const std::exception& e) {
            log::error(log::cat("policy: accept: internal error: ", e.what()));
        }
    }
}

void PolicyServer::Loop::adopt(Fd fd, std::string peer) {
    auto conn = std::make_unique<Conn>(*this, std::move(fd), std::move(peer));
    Conn* c = conn.get();
    conns.emplace(c, std::move(conn));
    if (!c->start()) close(c);
}

void PolicyServer::Loop::close(Conn* c) { conns.erase(c); }

// ---- Conn -------------------------------------------------------------------------------

PolicyServer::Conn::~Conn() { release_slot(loop.server.open_); }

bool PolicyServer::Conn::start() {
    settings = loop.server.settings();
    rd.reset(event_new(loop.base, fd.get(), EV_READ | EV_PERSIST, &Conn::on_read, this));
    wr.reset(event_new(loop.base, fd.get(), EV_WRITE | EV_PERSIST, &Conn::on_write, this));
    timer.reset(evtimer_new(loop.base, &Conn::on_timer, this));
    if (!rd || !wr || !timer || event_add(rd.get(), nullptr) != 0) return false;
    arm_timer();
    return true;
}

// The idle timeout between requests, the request deadline from a request's first byte, and
// while closing the same deadline for the client to take its replies.
void PolicyServer::Conn::arm_timer() {
    using namespace std::chrono;
    milliseconds wait = settings.idle_timeout;
    if (closing || in_request) wait = duration_cast<milliseconds>(request_deadline - steady_clock::now());
    timeval tv = to_timeval(wait);
    evtimer_add(timer.get(), &tv);
}

bool PolicyServer::Conn::read_some() {
    char buf[kReadSize];
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (n <= 0) {
        if (n < 0)
            log::debug(log::cat("policy: ", peer, ": read: ", std::strerror(errno),
                                "; connection closed"));
        else if (in_request)
            log::debug(log::cat("policy: ", peer, ": connection closed inside a request"));
        loop.close(this);
        return false;
    }
    settings = loop.server.settings();  // a reload applies from the next read on
    if (!feed(std::string_view(buf, static_cast<std::size_t>(n))) || !flush()) return false;
    arm_timer();
    return true;
}

bool PolicyServer::Conn::feed(std::string_view data) {
    while (!data.empty() && !closing) {
        if (pending() > kMaxPendingOutput) {
            held.append(data);
            if (!throttled) {
                throttled = true;
                event_del(rd.get());
            }
            return true;
        }
        if (!in_request) {
            in_request = true;
            request_deadline = std::chrono::steady_clock::now() + settings.request_timeout;
        }
        const auto step = parser.feed(data);
        data.remove_prefix(step.consumed);
        if (step.status == PolicyRequestParser::Status::malformed) return malformed(parser.error());
        if (step.status == PolicyRequestParser::Status::complete) {
            in_request = false;
            answer();
        }
    }
    return true;
}

// Sends what is pending; what the socket does not take waits for EV_WRITE.
bool PolicyServer::Conn::flush() {
    while (pending() > 0) {
        const ssize_t n = ::send(fd.get(), out.data() + out_sent, pending(), MSG_NOSIGNAL);
        if (n > 0) {
            out_sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!event_pending(wr.get(), EV_WRITE, nullptr)) event_add(wr.get(), nullptr);
            return true;
        }
        log::debug(log::cat("policy: ", peer, ": write: ", std::strerror(n < 0 ? errno : EPIPE),
                            "; connection closed"));
        loop.close(this);
        return false;
    }
    out.clear();
    out_sent = 0;
    if (event_pending(wr.get(), EV_WRITE, nullptr)) event_del(wr.get());
    if (closing) {
        loop.close(this);
        return false;
    }
    return true;
}

void PolicyServer::Conn::answer() {
    PolicyRequest req = parser.take();
    const Transaction t = to_transaction(req);
    const Verdict v = loop.server.evaluator_(t);
    const bool standalone = settings.standalone;
    const std::string action = reply_for(v, standalone);
    out.append("action=").append(action).append("\n\n");
    m_requests().inc();

    if (!log::enabled(log::Level::debug)) return;
    const std::string who = log::cat("client=", req.client_name.empty() ? "unknown" : req.client_name,
                                     "[", req.client_address, "] from=<", req.sender, "> to=<",
                                     req.recipient, "> protocol_state=", req.protocol_state);
    log::write_qid(log::Level::debug, req.queue_id,
                   log::cat("policy request ", who, " helo=<", req.helo_name, "> sasl=<",
                            req.sasl_username, "> instance=", req.instance, " peer=", peer,
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

// Returns true: the connection stays until its earlier replies are sent (flush closes it).
bool PolicyServer::Conn::malformed(const std::string& why) {
    m_malformed().inc();
    log::warning(log::cat("policy: malformed request from ", peer, ": ", why,
                          "; connection closed without a reply"));
    closing = true;
    held.clear();
    event_del(rd.get());
    request_deadline = std::chrono::steady_clock::now() + settings.request_timeout;
    return true;
}

void PolicyServer::Conn::on_read(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    try {
        c->read_some();
    } catch (const std::exception& e) {
        log::error(log::cat("policy: ", c->peer, ": internal error: ", e.what(),
                            "; connection closed"));
        c->loop.close(c);
    } catch (...) {
        log::error(log::cat("policy: ", c->peer, ": internal error; connection closed"));
        c->loop.close(c);
    }
}

void PolicyServer::Conn::on_write(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    try {
        if (!c->flush()) return;
        if (c->throttled && c->pending() <= kMaxPendingOutput) {
            c->throttled = false;
            event_add(c->rd.get(), nullptr);
            const std::string held = std::move(c->held);
            c->held.clear();
            if (!c->feed(held) || !c->flush()) return;  // what was already read
            c->arm_timer();
        }
    } catch (...) {
        log::error(log::cat("policy: ", c->peer, ": internal error; connection closed"));
        c->loop.close(c);
    }
}

void PolicyServer::Conn::on_timer(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    try {
        if (c->in_request && !c->closing)
            log::warning(log::cat("policy: ", c->peer, ": request not complete within ",
                                  c->settings.request_timeout.count(), "ms; connection closed"));
        else if (!c->closing)
            log::debug(log::cat("policy: ", c->peer, ": idle for ",
                                c->settings.idle_timeout.count(), "ms; connection closed"));
    } catch (...) {
    }
    c->loop.close(c);
}

}  // namespace mpp::policy
