// t/unbound_server.h: a real unbound (Debian's /usr/sbin/unbound) started by a test as a local
// authoritative server that never recurses: `local-zone: "." static` plus the test's own
// local-zone/local-data lines, on 127.0.0.1 and a free UDP port, in a temp directory.
//
// start() waits (up to 10 s) until unbound answers; stop() ends it by its pid (also the
// destructor). No unbound installed: start() fails and the test skips.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/dns_packet.h"
#include "lib/fd.h"

namespace mpp::testing {

// A free UDP port on 127.0.0.1 (free when asked; the test binds it right after).
inline unsigned free_udp_port() {
    Fd s(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return 0;
    return ntohs(a.sin_port);
}

class UnboundServer {
public:
    static constexpr const char* kBinary = "/usr/sbin/unbound";

    ~UnboundServer() {
        stop();
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }

    static bool available() { return ::access(kBinary, X_OK) == 0; }

    // `zone_lines`: unbound server: lines (local-zone, local-data). Same port on a restart.
    bool start(const std::vector<std::string>& zone_lines) {
        if (!available()) return false;
        if (dir_.empty()) {
            std::string tmpl =
                (std::filesystem::temp_directory_path() / "mpp-unbound-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) return false;
            dir_ = tmpl;
        }
        if (!port_) port_ = free_udp_port();
        std::ofstream conf(dir_ + "/unbound.conf");
        conf << "server:\n"
             << "  interface: 127.0.0.1\n  port: " << port_ << "\n"
             << "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
             << "  directory: \"" << dir_ << "\"\n  pidfile: \"" << dir_ << "/unbound.pid\"\n"
             << "  use-syslog: no\n  logfile: \"" << dir_ << "/unbound.log\"\n"
             << "  do-ip6: no\n  do-tcp: no\n  access-control: 127.0.0.0/8 allow\n"
             << "  num-threads: 1\n  local-zone: \".\" static\n";
        for (const auto& l : zone_lines) conf << "  " << l << "\n";
        conf.close();
        pid_ = ::fork();
        if (pid_ == 0) {
            std::string c = dir_ + "/unbound.conf";
            ::execl(kBinary, kBinary, "-d", "-c", c.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (pid_ < 0) return false;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            if (answers()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            int status;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
        }
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    unsigned port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log() const {
        std::ifstream in(dir_ + "/unbound.log");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

private:
    // One query for "." that any answer (even REFUSED) proves unbound is up.
    bool answers() const {
        Fd s(::socket(AF_INET, SOCK_DGRAM, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port_));
        std::string q;
        dns::build_query("ready.invalid", dns::Type::a, 4242, q);
        if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::send(s.get(), q.data(), q.size(), 0) < 0)
            return false;
        pollfd p{s.get(), POLLIN, 0};
        if (::poll(&p, 1, 100) != 1) return false;
        char buf[512];
        return ::recv(s.get(), buf, sizeof buf, 0) > 0;
    }

    std::string dir_;
    unsigned port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace mpp::testing
