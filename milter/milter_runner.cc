// milter/milter_runner.cc: libmilter set-up and its thread (see milter_runner.h).
#include "milter/milter_runner.h"

#include <libmilter/mfapi.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "lib/fd.h"
#include "lib/log.h"
#include "milter/callbacks.h"

namespace mpp::milter {
namespace {

unsigned port_of(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
    return 0;
}

}  // namespace

bool set_nodelay_on_listener(unsigned port) {
    bool found = false;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        int fd = -1;
        try {
            fd = std::stoi(entry.path().filename().string());
        } catch (...) {
            continue;
        }
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
        if (port_of(ss) != port) continue;
        int one = 1;
        if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) found = true;
    }
    return found;
}

std::string libmilter_version() {
    unsigned major = 0, minor = 0, patch = 0;
    smfi_version(&major, &minor, &patch);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::unique_ptr<MilterRunner> MilterRunner::open(const config::MilterCfg& cfg,
                                                 const config::ConfigHolder* holder, uid_t uid,
                                                 gid_t gid, std::string* error) {
    auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return nullptr;
    };
    std::string spec_error;
    auto spec = SocketSpec::parse_milter(cfg.socket, &spec_error);
    if (!spec) return fail("milter socket: " + spec_error);

    auto runner = std::make_unique<MilterRunner>(Private{}, *spec, holder);
    smfiDesc desc = make_filter_description(&runner->context_);
    if (smfi_register(desc) != MI_SUCCESS) return fail("smfi_register failed");
    std::string conn = spec->milter_str();
    if (smfi_setconn(conn.data()) != MI_SUCCESS) return fail("smfi_setconn failed for " + conn);
    if (smfi_settimeout(static_cast<int>(cfg.timeout.count())) != MI_SUCCESS)
        return fail("smfi_settimeout failed");
    if (smfi_setbacklog(cfg.backlog) != MI_SUCCESS) return fail("smfi_setbacklog failed");

    // A unix socket is created with no access for others, then given to the daemon's user.
    mode_t old = ::umask(spec->kind == SocketSpec::Kind::unix_path ? 0117 : 0022);
    int rc = smfi_opensocket(true);  // true: remove a stale unix socket first
    ::umask(old);
    if (rc != MI_SUCCESS) return fail("cannot open milter socket " + conn);

    if (spec->kind == SocketSpec::Kind::unix_path) {
        if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
            ::chown(spec->path.c_str(), uid, gid) != 0)
            return fail("chown " + spec->path + ": " + std::strerror(errno));
    } else if (!set_nodelay_on_listener(spec->port)) {
        log::warning("milter: could not set TCP_NODELAY on the listening socket; replies of "
                     "more than one packet may be delayed by the MTA's delayed ACK");
    }
    return runner;
}

MilterRunner::~MilterRunner() {
    if (thread_.joinable()) {
        stop();
        join();
    }
    if (stopper_.joinable()) stopper_.join();
    if (waker_.joinable()) waker_.join();
}

namespace {

// Runs `fn` on a new thread that has the signals libmilter's signal thread waits for blocked
// (the thread and any it creates inherit the mask); the calling thread keeps its own mask.
std::thread thread_without_signals(std::function<void()> fn) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    std::thread t(std::move(fn));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
}

}  // namespace

void MilterRunner::start() {
    thread_ = thread_without_signals([this] {
        result_ = smfi_main();
        finished_ = true;
    });
}

void MilterRunner::stop() {
    if (stopper_.joinable()) return;
    stopper_ = thread_without_signals([] { smfi_stop(); });
    waker_ = thread_without_signals([this] {
        for (int i = 0; i < 150 && !finished_.load(); ++i) {
            wake_listener();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
}

void MilterRunner::wake_listener() const {
    // smfi_stop has set libmilter's stop flag (before it waits for the listener); a connection
    // makes the listener's poll return, see the flag, and close its socket.
    int family = spec_.kind == SocketSpec::Kind::unix_path ? AF_UNIX
                 : spec_.kind == SocketSpec::Kind::inet6   ? AF_INET6
                                                           : AF_INET;
    Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return;
    if (family == AF_UNIX) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", spec_.path.c_str());
        ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else if (family == AF_INET6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(static_cast<uint16_t>(spec_.port));
        if (spec_.host.empty() || inet_pton(AF_INET6, spec_.host.c_str(), &sa.sin6_addr) != 1)
            sa.sin6_addr = in6addr_loopback;
        ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(spec_.port));
        if (spec_.host.empty() || inet_pton(AF_INET, spec_.host.c_str(), &sa.sin_addr) != 1)
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
}

void MilterRunner::join() {
    if (thread_.joinable()) thread_.join();
}

}  // namespace mpp::milter
