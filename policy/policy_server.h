// policy/policy_server.h: the Postfix policy-delegation server (check_policy_service).
//
// Owns: the listening socket (TCP on IPv4/IPv6, or a unix socket created with mode 0660 before
// privileges are dropped, a stale one replaced, removed on destruction), its connections and
// the loop threads that serve them.
// Threads: the listener runs on the event loop given to open() (the daemon's main loop). With
// Settings::threads = 0 that loop also serves every connection; with N > 0 the server starts N
// loop threads of its own and hands each accepted connection to one of them (round robin,
// through a wake-up pipe: no libevent call crosses threads). A connection lives on one loop for
// its whole life, so its requests are answered in order. The evaluator is called on the loop
// threads, several at once: it must be thread-safe and must not block.
// I/O: a connection reads straight from its socket into the request parser and writes the
// replies of everything it read in one send(); only a reply the socket cannot take at once
// waits for EV_WRITE (a request costs one read and one send on a loop that keeps up).
// Wire format: requests as in policy_request.h; a reply is `action=WORD [text]` LF LF (see
// policy_reply.h).
// Limits: at most Settings::max_connections at once over all loops (more are accepted and
// closed at once, counted in policy-refused, logged once per state change); a connection with
// no request in progress is closed after idle_timeout; a request must arrive whole within
// request_timeout of its first byte (a drip is closed, B4); a client that does not read its
// replies is not read from while more than kMaxPendingOutput bytes wait; request limits in
// PolicyRequestParser.
// Failures: a malformed request is logged (warning, escaped and cut), counted in
// policy-malformed, gets NO reply and its connection is closed (earlier replies are flushed
// first), so Postfix applies smtpd_policy_service_default_action. An exception out of the
// evaluator closes that connection without a reply, like a malformed request. The server keeps
// serving every other connection.
// Metrics: policy-connections (accepted), policy-requests (answered), policy-malformed,
// policy-refused (over the cap), policy-connections-open (gauge).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/event.h"
#include "lib/socket_spec.h"
#include "policy/policy_reply.h"
#include "policy/transaction.h"
#include "policy/verdict.h"

namespace mpp::policy {

class PolicyServer {
public:
    using Evaluator = std::function<Verdict(const Transaction&)>;
    static constexpr std::size_t kMaxPendingOutput = 64 * 1024;

    // What a reload may change (the socket and the loop threads stay as opened).
    struct Settings {
        bool standalone = false;
        std::chrono::milliseconds idle_timeout{300'000};
        std::chrono::milliseconds request_timeout{20'000};
        int max_connections = 1000;
        int threads = 0;  // loop threads; 0: serve on open()'s loop. Read by open() only.
    };

    // Binds and listens on `listen` (from SocketSpec::parse_listen: "127.0.0.1:10031",
    // "[::1]:10031", "*:10031", "unix:/path"; port 0, which only code can ask for, picks a free
    // port: see address()). A unix socket gets mode 0660 and, when uid/gid are not -1, that
    // owner. nullptr and *error on failure.
    static std::unique_ptr<PolicyServer> open(event_base* base, const SocketSpec& listen,
                                              Settings settings, Evaluator evaluator,
                                              uid_t uid, gid_t gid, std::string* error);
    ~PolicyServer();
    PolicyServer(const PolicyServer&) = delete;
    PolicyServer& operator=(const PolicyServer&) = delete;

    // New settings for new connections and requests (reload); `threads` is not changed.
    void update(Settings settings);
    // Stops accepting (graceful stop): the listening socket is closed (a unix one removed);
    // open connections are served until they close.
    void stop_accepting();

    // Where it listens: "127.0.0.1:10031", "[::1]:4711", "unix:/path"; "" after stop_accepting().
    const std::string& address() const { return address_; }
    // Open connections over all loops.
    std::size_t connections() const { return static_cast<std::size_t>(open_.load()); }
    // Loops serving connections (Settings::threads, or 1).
    std::size_t loops() const { return loops_.size(); }

    struct Private {};  // only open() constructs
    PolicyServer(Private, event_base* base, Settings settings, Evaluator evaluator);

    // One event loop and the connections it serves (policy_conn.cc).
    struct Loop;
    struct Conn;

private:
    static void on_accept(evconnlistener*, evutil_socket_t, sockaddr*, int, void* arg);
    bool start_loops(int threads, std::string* error);
    void accept_conn(evutil_socket_t fd);
    Settings settings() const;

    event_base* base_;
    mutable std::mutex settings_mutex_;
    Settings settings_;
    Evaluator evaluator_;
    ListenerPtr listener_;
    std::string address_;
    std::string unix_path_;  // removed on destruction / stop
    bool at_cap_ = false;    // logged once per state change (listener thread only)
    std::atomic<int> open_{0};
    std::vector<std::unique_ptr<Loop>> loops_;
    std::size_t next_loop_ = 0;  // round robin (listener thread only)
};

}  // namespace mpp::policy
