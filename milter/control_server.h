// milter/control_server.h: the control socket: mppctl's requests, answered on the main event loop.
//
// Owns: the listening unix socket (created with an explicit mode and owner before privileges
// are dropped, removed on destruction), the client connections, and the verb table. Verbs are
// registered by the code that owns the feature (status, reload, stop now; later issues add
// greylist, quarantine... verbs) and run on the event loop thread.
// Wire format: lib/control.h. Limits: a request line over control::kMaxRequest bytes gets
// "ERR request too long" and the connection is closed; at most kMaxClients connections (more are
// closed at once); a connection idle for kIdleTimeout is closed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/control.h"
#include "lib/event.h"

namespace mpp {

class ControlServer {
public:
    using Handler = std::function<control::Response(const control::Request&)>;
    static constexpr int kMaxClients = 32;
    static constexpr std::chrono::seconds kIdleTimeout{60};

    // Creates the socket at `path` (replacing a stale one; refusing when a live daemon answers
    // there), sets `mode` and, when uid/gid are not -1, the owner. nullptr and *error on failure.
    static std::unique_ptr<ControlServer> open(event_base* base, const std::string& path,
                                               unsigned mode, uid_t uid, gid_t gid,
                                               std::string* error);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // `usage` is one line for `help`: "reload  re-read the configuration".
    void add_verb(const std::string& verb, std::string usage, Handler handler);
    const std::string& path() const { return path_; }

    // Handles one request as a connection would (also used by tests).
    control::Response dispatch(const control::Request&) const;

    struct Private {};  // only open() constructs
    ControlServer(Private, event_base* base, std::string path);

private:
    struct Client;
    static void on_accept(evconnlistener*, evutil_socket_t, sockaddr*, int, void* arg);
    static void on_read(bufferevent*, void* arg);
    static void on_write(bufferevent*, void* arg);
    static void on_event(bufferevent*, short what, void* arg);
    void accept_client(evutil_socket_t fd);
    void drop(Client* c);

    event_base* base_;
    std::string path_;
    ListenerPtr listener_;
    struct Verb {
        std::string usage;
        Handler handler;
    };
    std::map<std::string, Verb> verbs_;
    std::map<Client*, std::unique_ptr<Client>> clients_;
};

}  // namespace mpp
