// policy/policy_conn.h: the policy server's loops and connections (internal to
// policy_server.cc and policy_conn.cc; see policy_server.h for the behaviour).
//
// Loop: one event_base and the connections it serves. The loop of open() is the caller's base
// (Settings::threads = 0); a loop thread owns its base and runs it on a thread of its own, with
// every signal blocked. The listener thread hands it accepted sockets through `incoming` and a
// wake-up pipe; everything else of a loop (its connections, their events) is touched only by
// the loop's own thread, so no libevent call crosses threads.
// Conn: one client connection: its socket, read/write/timer events, the request parser, the
// replies not yet sent and the bytes read but not yet parsed while the client is throttled.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/event.h"
#include "lib/fd.h"
#include "policy/policy_request.h"
#include "policy/policy_server.h"

namespace mpp::policy {

struct PolicyServer::Loop {
    Loop(PolicyServer& server, event_base* base) : server(server), base(base) {}
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // A loop thread of its own: creates the base, the wake-up pipe and the thread.
    bool start(std::string* error);
    // From the listener thread: `fd` is served by this loop from now on.
    void hand_over(Fd fd, std::string peer);
    // Serves `fd` (on this loop's thread).
    void adopt(Fd fd, std::string peer);
    void close(Conn* c);

    PolicyServer& server;
    event_base* base;
    EventBasePtr owned;  // a loop thread's base
    std::thread thread;
    Fd wake_read, wake_write;
    EventPtr wake;
    std::mutex mutex;  // guards incoming and stopping
    std::vector<std::pair<Fd, std::string>> incoming;
    bool stopping = false;
    std::map<Conn*, std::unique_ptr<Conn>> conns;

private:
    static void on_wake(evutil_socket_t, short, void* arg);
};

struct PolicyServer::Conn {
    // Takes the connection slot the listener counted in PolicyServer::open_ (given back by
    // the destructor).
    Conn(Loop& loop, Fd fd, std::string peer) : loop(loop), fd(std::move(fd)), peer(std::move(peer)) {}
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    bool start();  // events created and armed; false: out of memory (the caller drops it)

    Loop& loop;
    Fd fd;
    EventPtr rd, wr, timer;
    PolicyRequestParser parser;
    std::string peer;                 // "192.0.2.1:4711", "unix" (for log lines)
    Settings settings;                // the server's, as of the last read
    std::string out;                  // replies not yet sent, from out_sent on
    std::size_t out_sent = 0;
    std::string held;                 // read but not parsed while throttled
    bool closing = false;             // close once the replies are sent
    bool throttled = false;           // reading paused: the client does not read its replies
    bool in_request = false;          // the request deadline runs
    std::chrono::steady_clock::time_point request_deadline;

private:
    static void on_read(evutil_socket_t, short, void* arg);
    static void on_write(evutil_socket_t, short, void* arg);
    static void on_timer(evutil_socket_t, short, void* arg);
    // Each returns false when the connection is gone (closed: `this` is freed).
    bool read_some();
    bool feed(std::string_view data);
    void answer();
    bool flush();
    bool malformed(const std::string& why);
    void arm_timer();
    std::size_t pending() const { return out.size() - out_sent; }
};

}  // namespace mpp::policy
