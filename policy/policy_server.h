// policy/policy_server.h: the Postfix policy-delegation server (check_policy_service).
//
// Owns: the listening socket (TCP on IPv4/IPv6, or a unix socket created with mode 0660 before
// privileges are dropped, a stale one replaced, removed on destruction) and its connections.
// Runs on one libevent loop, the daemon's main loop: every callback, the evaluator and reply
// writes run on that thread, and requests of one connection are answered in order. The
// evaluator is called synchronously; it must not block (checks that need DNS or shared state
// will be asynchronous in the engine).
// Wire format: requests as in policy_request.h; a reply is `action=WORD [text]` LF LF (see
// policy_reply.h).
// Limits: at most Settings::max_connections at once (more are accepted and closed at once,
// counted in policy-refused, logged once per state change); a connection with no request in
// progress is closed after idle_timeout; a request must arrive whole within request_timeout of
// its first byte (a drip is closed, B4); replies not read by the client stop reading after
// kMaxPendingOutput bytes; request limits in PolicyRequestParser.
// Failures: a malformed request is logged (warning, escaped and cut), counted in
// policy-malformed, gets NO reply and its connection is closed (earlier replies are flushed
// first), so Postfix applies smtpd_policy_service_default_action. An exception out of the
// evaluator closes that connection without a reply, like a malformed request. The server keeps
// serving every other connection.
// Metrics: policy-connections (accepted), policy-requests (answered), policy-malformed,
// policy-refused (over the cap), policy-connections-open (gauge).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

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

    // What a reload may change (the socket stays as opened).
    struct Settings {
        bool standalone = false;
        std::chrono::milliseconds idle_timeout{300'000};
        std::chrono::milliseconds request_timeout{20'000};
        int max_connections = 1000;
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

    // New settings for new connections and requests (reload).
    void update(Settings settings) { settings_ = settings; }
    // Stops accepting (graceful stop): the listening socket is closed (a unix one removed);
    // open connections are served until they close.
    void stop_accepting();

    // Where it listens: "127.0.0.1:10031", "[::1]:4711", "unix:/path"; "" after stop_accepting().
    const std::string& address() const { return address_; }
    std::size_t connections() const { return conns_.size(); }

    struct Private {};  // only open() constructs
    PolicyServer(Private, event_base* base, Settings settings, Evaluator evaluator);

private:
    struct Conn;
    static void on_accept(evconnlistener*, evutil_socket_t, sockaddr*, int, void* arg);
    static void on_read(bufferevent*, void* arg);
    static void on_write(bufferevent*, void* arg);
    static void on_event(bufferevent*, short what, void* arg);
    static void on_timer(evutil_socket_t, short, void* arg);
    void accept_conn(evutil_socket_t fd);
    void read_requests(Conn* c);
    void answer(Conn* c);
    void malformed(Conn* c, const std::string& why);
    void arm_timer(Conn* c);
    void close_conn(Conn* c);

    event_base* base_;
    Settings settings_;
    Evaluator evaluator_;
    ListenerPtr listener_;
    std::string address_;
    std::string unix_path_;  // removed on destruction / stop
    bool at_cap_ = false;    // logged once per state change
    std::map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace mpp::policy
