// t/engines/engine_servers.h: the servers the engine tests talk to.
//
// SpamdServer: Debian's /usr/sbin/spamd, private to the test: 127.0.0.1 on a free port, a
// temp directory as its site config (only the Check plugin loaded, local tests only, no Bayes,
// no auto-learn: it starts in about a second and needs no network), its log in that directory.
// Run as root it runs as `nobody` (the directory is made world-readable for it).
// ClamdServer: Debian's /usr/sbin/clamd with a temp config: a unix socket in the temp
// directory, one signature (the EICAR test string, built here from two halves so that no file
// of the project holds it whole), StreamMaxLength 1M and, with AlertExceedsMax, a 256K
// MaxFileSize/MaxScanSize so the limits answers can be provoked.
// Both: start() waits until the server answers a PING (spamd up to 60 s, clamd 30 s), and
// fails with a reason when the program is missing ("contrib/install-deps.sh --tests installs
// it") or exits; stop() (also the destructor) ends it by its pid. The child gets SIGTERM if
// the test process dies first (PR_SET_PDEATHSIG, lost once the server changes its user).
// ScriptedServer: a fake engine that answers every connection with fixed bytes once the client
// has been quiet for 100 ms, then closes. SilentServer: a listening socket that never accepts
// (connections complete in the kernel's backlog and then hear nothing). ClosedPort: a bound
// TCP port nobody listens on (connecting is refused).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lib/fd.h"
#include "t/temp_dir.h"

namespace mpp::testing {

// The EICAR anti-virus test string, from two halves.
inline std::string eicar() {
    return std::string("X5O!P%@AP[4\\PZX54(P^)7CC)7}$") +
           "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
}

// The GTUBE spam test string.
inline std::string gtube() {
    return std::string("XJS*C4JDBQADN1.NSBN3*2IDNEN*") +
           "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
}

// A TCP socket on 127.0.0.1 (port 0: any free one), listening when `listen`.
inline Fd tcp_socket(bool listen, unsigned port, unsigned* bound) {
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    socklen_t len = sizeof a;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        (listen && ::listen(s.get(), 16) != 0) ||
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return Fd();
    *bound = ntohs(a.sin_port);
    return s;
}

inline Fd unix_listener(const std::string& path) {
    Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) return Fd();
    std::memcpy(a.sun_path, path.data(), path.size());
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(s.get(), 16) != 0)
        return Fd();
    return s;
}

// A free TCP port on 127.0.0.1 (free when asked).
inline unsigned free_tcp_port() {
    unsigned port = 0;
    tcp_socket(false, 0, &port);
    return port;
}

struct ClosedPort {
    unsigned port = 0;
    Fd fd = tcp_socket(false, 0, &port);  // bound, not listening: connect is refused
    std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

struct SilentServer {
    explicit SilentServer(const std::string& unix_path = "") {
        if (unix_path.empty()) {
            fd = tcp_socket(true, 0, &port);
            addr = "127.0.0.1:" + std::to_string(port);
        } else {
            fd = unix_listener(unix_path);
            addr = "unix:" + unix_path;
        }
    }
    const std::string& address() const { return addr; }
    unsigned port = 0;
    Fd fd;
    std::string addr;
};

class ScriptedServer {
public:
    explicit ScriptedServer(std::string answer, const std::string& unix_path = "")
        : answer_(std::move(answer)) {
        if (unix_path.empty()) {
            unsigned port = 0;
            fd_ = tcp_socket(true, 0, &port);
            addr_ = "127.0.0.1:" + std::to_string(port);
        } else {
            fd_ = unix_listener(unix_path);
            addr_ = "unix:" + unix_path;
        }
        if (fd_) thread_ = std::thread([this] { run(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    const std::string& address() const { return addr_; }
    // What the last client sent.
    std::string received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

private:
    void run() {
        while (!stop_) {
            pollfd p{fd_.get(), POLLIN, 0};
            if (::poll(&p, 1, 20) != 1) continue;
            Fd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            std::string got;
            char buf[65536];
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!stop_ && std::chrono::steady_clock::now() < until) {
                pollfd q{c.get(), POLLIN, 0};
                if (::poll(&q, 1, 100) != 1) break;  // quiet for 100 ms
                ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
                if (n <= 0) break;
                if (got.size() < 1024 * 1024) got.append(buf, static_cast<std::size_t>(n));
            }
            {
                std::lock_guard lock(mutex_);
                received_ = got;
            }
            std::string_view rest = answer_;
            while (!rest.empty()) {
                ssize_t n = ::send(c.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
                if (n <= 0) break;
                rest.remove_prefix(static_cast<std::size_t>(n));
            }
        }
    }

    std::string answer_;
    Fd fd_;
    std::string addr_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::string received_;
};

// One request and its answer, for the readiness checks: true when the answer holds `expect`
// within `timeout`. `address` is "127.0.0.1:PORT" or "unix:/path".
inline bool exchange(const std::string& address, std::string_view request,
                     std::string_view expect, std::chrono::milliseconds timeout) {
    Fd s;
    if (address.rfind("unix:", 0) == 0) {
        s = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::string path = address.substr(5);
        if (path.size() >= sizeof a.sun_path) return false;
        std::memcpy(a.sun_path, path.data(), path.size());
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    } else {
        s = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(std::stoul(address.substr(10))));
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    }
    if (::send(s.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
        return false;
    std::string got;
    auto until = std::chrono::steady_clock::now() + timeout;
    char buf[512];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{s.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
        if (got.find(expect) != std::string::npos) return true;
    }
    return false;
}

// A server program run by a test: started with its output in `out`, stopped by its pid.
class ServerProcess {
public:
    ~ServerProcess() { stop(); }

    bool spawn(const std::vector<std::string>& args, const std::string& out) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            int in = ::open("/dev/null", O_RDONLY);
            int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
            if (in >= 0) ::dup2(in, 0);
            if (o >= 0) {
                ::dup2(o, 1);
                ::dup2(o, 2);
            }
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        return pid_ > 0;
    }

    bool exited() {
        int status;
        if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
        return pid_ <= 0;
    }

    // SIGTERM, then SIGKILL after 10 s.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        int status;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

// Waits until `ready()` or the process exits or `limit` passes; "" or the reason.
template <typename F>
std::string wait_ready(ServerProcess& p, F ready, std::chrono::seconds limit, const char* what,
                       const std::string& out) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (ready()) return "";
        if (p.exited()) return std::string(what) + " exited at start: " + read_file(out);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    p.stop();
    return std::string(what) + " did not answer within " + std::to_string(limit.count()) +
           " s: " + read_file(out);
}

inline std::string missing(const char* binary) {
    return std::string(binary) +
           " is not installed; the engine tests need it (contrib/install-deps.sh --tests "
           "installs it)";
}

class SpamdServer {
public:
    static constexpr const char* kBinary = "/usr/sbin/spamd";

    // "" when spamd answers; else why not.
    std::string start() {
        if (::access(kBinary, X_OK) != 0) return missing(kBinary);
        if (dir_.path.empty()) return "cannot make a temp directory";
        bool root = ::geteuid() == 0;
        if (root) ::chmod(dir_.path.c_str(), 0755);  // spamd reads its config as nobody
        std::ofstream(dir_ / "init.pre") << "loadplugin Mail::SpamAssassin::Plugin::Check\n";
        std::ofstream(dir_ / "local.cf") << "use_bayes 0\nbayes_auto_learn 0\n"
                                         << "skip_rbl_checks 1\ndns_available no\n"
                                         << "use_auto_whitelist 0\n";
        port_ = free_tcp_port();
        std::vector<std::string> args = {kBinary,
                                          "--listen=127.0.0.1:" + std::to_string(port_),
                                          "--allowed-ips=127.0.0.1",
                                          "--siteconfigpath=" + dir_.path,
                                          "--nouser-config",
                                          "--local",
                                          "--max-children=1",
                                          "--pidfile=" + (dir_ / "spamd.pid"),
                                          "--helper-home-dir=" + dir_.path,
                                          "--syslog=" + (dir_ / "spamd.log")};
        if (root) args.push_back("--username=nobody");
        if (!process_.spawn(args, dir_ / "spamd.out")) return "cannot start spamd";
        return wait_ready(
            process_,
            [&] {
                return exchange(address(), "PING SPAMC/1.5\r\n\r\n", "PONG",
                                std::chrono::milliseconds(2000));
            },
            std::chrono::seconds(60), "spamd", dir_ / "spamd.out");
    }

    void stop() { process_.stop(); }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log() const { return read_file(dir_ / "spamd.log"); }

private:
    TempDir dir_{"mpp-spamd"};
    unsigned port_ = 0;
    ServerProcess process_;
};

class ClamdServer {
public:
    static constexpr const char* kBinary = "/usr/sbin/clamd";
    static constexpr const char* kSignature = "Mpp.Test.EICAR";
    static constexpr std::size_t kMaxFileSize = 256 * 1024;    // MaxFileSize, MaxScanSize
    static constexpr std::size_t kStreamMaxLength = 1024 * 1024;

    std::string start() {
        if (::access(kBinary, X_OK) != 0) return missing(kBinary);
        if (dir_.path.empty()) return "cannot make a temp directory";
        std::filesystem::create_directory(dir_ / "db");
        std::string hex;
        for (unsigned char c : eicar()) {
            char b[3];
            std::snprintf(b, sizeof b, "%02x", c);
            hex += b;
        }
        std::ofstream(dir_ / "db/mpp-test.ndb") << kSignature << ":0:*:" << hex << "\n";
        std::ofstream(dir_ / "clamd.conf")
            << "DatabaseDirectory " << (dir_ / "db") << "\n"
            << "LocalSocket " << (dir_ / "clamd.sock") << "\n"
            << "Foreground yes\n"
            << "PidFile " << (dir_ / "clamd.pid") << "\n"
            << "LogFile " << (dir_ / "clamd.log") << "\n"
            << "TemporaryDirectory " << dir_.path << "\n"
            << "StreamMaxLength " << kStreamMaxLength / 1024 << "K\n"
            << "AlertExceedsMax yes\n"
            << "MaxFileSize " << kMaxFileSize / 1024 << "K\n"
            << "MaxScanSize " << kMaxFileSize / 1024 << "K\n";
        if (!process_.spawn({kBinary, "-c", dir_ / "clamd.conf"}, dir_ / "clamd.out"))
            return "cannot start clamd";
        return wait_ready(
            process_,
            [&] {
                return exchange(address(), std::string_view("zPING\0", 6), "PONG",
                                std::chrono::milliseconds(2000));
            },
            std::chrono::seconds(30), "clamd", dir_ / "clamd.out");
    }

    void stop() { process_.stop(); }
    std::string address() const { return "unix:" + (dir_ / "clamd.sock"); }

private:
    TempDir dir_{"mpp-clamd"};
    ServerProcess process_;
};

}  // namespace mpp::testing
