// milter/control_server.cc: the control socket server (see control_server.h).
#include "milter/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/fd.h"
#include "lib/log.h"

namespace mpp {

struct ControlServer::Client {
    ControlServer* server = nullptr;
    BufferEventPtr bev;
    bool closing = false;  // close once the output buffer is flushed
};

namespace {

bool fill_sockaddr(const std::string& path, sockaddr_un& sa, std::string* error) {
    sa = {};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
        if (error) *error = "control socket path empty or too long: " + path;
        return false;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    return true;
}

// Removes a socket left by a daemon that is gone; refuses when one still answers there.
bool clear_stale(const std::string& path, const sockaddr_un& sa, std::string* error) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return true;  // nothing there
    if (!S_ISSOCK(st.st_mode)) {
        if (error) *error = path + " exists and is not a socket";
        return false;
    }
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) {
        if (error) *error = "control socket " + path + " is in use: is another mppd running?";
        return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        if (error) *error = "cannot remove stale " + path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace

ControlServer::ControlServer(Private, event_base* base, std::string path)
    : base_(base), path_(std::move(path)) {}

ControlServer::~ControlServer() {
    clients_.clear();
    listener_.reset();
    if (!path_.empty()) ::unlink(path_.c_str());
}

std::unique_ptr<ControlServer> ControlServer::open(event_base* base, const std::string& path,
                                                   unsigned mode, uid_t uid, gid_t gid,
                                                   std::string* error) {
    sockaddr_un sa;
    if (!fill_sockaddr(path, sa, error) || !clear_stale(path, sa, error)) return nullptr;
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    auto fail = [&](const char* what) {
        if (error) *error = std::string(what) + " " + path + ": " + std::strerror(errno);
        return nullptr;
    };
    if (!fd) return fail("socket");
    // Created with no access at all, then opened up to `mode`: never briefly world-writable.
    mode_t old = ::umask(0777);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    ::umask(old);
    if (rc != 0) return fail("cannot bind control socket");
    auto server = std::make_unique<ControlServer>(Private{}, base, path);
    if (::chmod(path.c_str(), mode & 07777) != 0) return fail("chmod");
    if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
        ::chown(path.c_str(), uid, gid) != 0)
        return fail("chown");
    if (::listen(fd.get(), 16) != 0) return fail("listen");
    server->listener_.reset(evconnlistener_new(base, &ControlServer::on_accept, server.get(),
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                               fd.get()));
    if (!server->listener_) return fail("evconnlistener_new");
    fd.release();  // the listener owns it now
    server->add_verb("help", "help  list the verbs", [s = server.get()](const control::Request&) {
        control::Response r;
        r.ok = true;
        for (const auto& [name, verb] : s->verbs_) r.lines.push_back(verb.usage);
        return r;
    });
    return server;
}

void ControlServer::add_verb(const std::string& verb, std::string usage, Handler handler) {
    verbs_[verb] = Verb{std::move(usage), std::move(handler)};
}

control::Response ControlServer::dispatch(const control::Request& req) const {
    auto it = verbs_.find(req.verb);
    if (it == verbs_.end()) {
        control::Response r;
        r.status_text = "unknown verb \"" + req.verb + "\" (try help)";
        return r;
    }
    try {
        return it->second.handler(req);
    } catch (const std::exception& e) {
        log::error(log::cat("control: ", req.verb, ": internal error: ", e.what()));
        control::Response r;
        r.status_text = std::string("internal error: ") + e.what();
        return r;
    }
}

void ControlServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    static_cast<ControlServer*>(arg)->accept_client(fd);
}

void ControlServer::accept_client(evutil_socket_t fd) {
    if (clients_.size() >= static_cast<std::size_t>(kMaxClients)) {
        log::warning(log::cat("control: more than ", kMaxClients, " clients; connection closed"));
        evutil_closesocket(fd);
        return;
    }
    auto client = std::make_unique<Client>();
    client->server = this;
    client->bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!client->bev) {
        evutil_closesocket(fd);
        return;
    }
    Client* c = client.get();
    bufferevent_setcb(c->bev.get(), &ControlServer::on_read, &ControlServer::on_write,
                      &ControlServer::on_event, c);
    timeval idle{static_cast<time_t>(kIdleTimeout.count()), 0};
    bufferevent_set_timeouts(c->bev.get(), &idle, &idle);
    bufferevent_enable(c->bev.get(), EV_READ | EV_WRITE);
    clients_.emplace(c, std::move(client));
}

void ControlServer::drop(Client* c) { clients_.erase(c); }

void ControlServer::on_read(bufferevent* bev, void* arg) {
    auto* c = static_cast<Client*>(arg);
    ControlServer* self = c->server;
    evbuffer* in = bufferevent_get_input(bev);
    while (!c->closing) {
        size_t len = 0;
        char* raw = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!raw) {
            if (evbuffer_get_length(in) > control::kMaxRequest) {
                control::Response r;
                r.status_text = "request too long";
                std::string out = control::encode_response(r);
                bufferevent_write(bev, out.data(), out.size());
                c->closing = true;
            }
            break;
        }
        std::unique_ptr<char, decltype(&std::free)> line(raw, &std::free);
        auto req = control::decode_request(std::string_view(raw, len));
        control::Response r;
        if (!req) r.status_text = "malformed request";
        else r = self->dispatch(*req);
        std::string out = control::encode_response(r);
        bufferevent_write(bev, out.data(), out.size());
        if (!req) c->closing = true;
    }
    if (c->closing) bufferevent_disable(bev, EV_READ);
}

void ControlServer::on_write(bufferevent*, void* arg) {
    auto* c = static_cast<Client*>(arg);
    if (c->closing) c->server->drop(c);
}

void ControlServer::on_event(bufferevent*, short, void* arg) {
    auto* c = static_cast<Client*>(arg);
    c->server->drop(c);  // EOF, error or idle timeout
}

}  // namespace mpp
