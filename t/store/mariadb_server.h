// t/store/mariadb_server.h: a real MariaDB server (Debian's mariadbd) for the store tests, in a
// temp datadir made by mariadb-install-db, on a unix socket and a free loopback TCP port.
//
// One server per test binary: shared_mariadb() makes it on first use (a suite's
// SetUpTestSuite) and the process ends it at exit; the server also dies with the test binary
// (PR_SET_PDEATHSIG), so a crashed test leaves no server behind. stop() and start() again on
// the same datadir are the realistic database outage. The server runs with the flush at commit
// relaxed and all tables in one tablespace (faster DDL): the tests are about behaviour, not
// durability.
// No mariadbd installed: start() fails and the tests skip.
// Users: root (no password) for set-up; "mpp" with kPassword, allowed on every database named
// mpp_*, for the code under test.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/fd.h"
#include "store/db.h"
#include "t/temp_dir.h"

namespace mpp::testing {

class MariaDbServer {
public:
    static constexpr const char* kServer = "/usr/sbin/mariadbd";
    static constexpr const char* kInstall = "/usr/bin/mariadb-install-db";
    static constexpr const char* kPassword = "s3cret 'pw\"";

    ~MariaDbServer() {
        // At the end of the tests nothing in the datadir is kept: no clean shutdown needed.
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
        }
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }

    static bool available() {
        return ::access(kServer, X_OK) == 0 && ::access(kInstall, X_OK) == 0;
    }

    // First call: makes the datadir and the users, then serves. Later calls (after stop()):
    // serves the same datadir on the same socket and port. *error says why it failed.
    bool start(std::string* error) {
        if (pid_ > 0) return true;
        if (!available()) return fail(error, "mariadbd or mariadb-install-db is not installed");
        const bool first = dir_.empty();
        if (first) {
            std::string tmpl =
                (std::filesystem::temp_directory_path() / "mpp-mariadb-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) return fail(error, "mkdtemp failed");
            dir_ = tmpl;
            port_ = free_tcp_port();
            std::vector<std::string> install = {kInstall,
                                                "--no-defaults",
                                                "--datadir=" + dir_ + "/data",
                                                "--skip-test-db",
                                                "--auth-root-authentication-method=normal",
                                                "--innodb-log-file-size=4M",
                                                "--skip-log-bin"};
            if (::geteuid() == 0) install.push_back("--user=root");
            if (run(install, dir_ + "/install.log") != 0)
                return fail(error,
                            "mariadb-install-db failed: " + read_file(dir_ + "/install.log"));
        }
        std::vector<std::string> args = {kServer,
                                         "--no-defaults",
                                         "--datadir=" + dir_ + "/data",
                                         "--socket=" + socket(),
                                         "--pid-file=" + dir_ + "/mariadbd.pid",
                                         "--port=" + std::to_string(port_),
                                         "--bind-address=127.0.0.1",
                                         "--skip-log-bin",
                                         "--skip-name-resolve",
                                         "--innodb-buffer-pool-size=32M",
                                         "--innodb-log-file-size=4M",
                                         "--innodb-flush-log-at-trx-commit=2",
                                         "--innodb-file-per-table=0",
                                         "--log-error=" + dir_ + "/error.log"};
        if (::geteuid() == 0) args.push_back("--user=root");
        pid_ = spawn(args, dir_ + "/server.log");
        if (pid_ < 0) return fail(error, "fork failed");
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < until) {
            int status;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return fail(error, "mariadbd exited: " + read_file(dir_ + "/error.log"));
            }
            store::Db root(root_settings());
            std::string ignored;
            if (root.connect(&ignored)) {
                if (first && !root.exec("CREATE USER 'mpp'@'localhost' IDENTIFIED BY '" +
                                            escaped_password() + "'",
                                        error))
                    return false;
                if (first && !root.exec("CREATE USER 'mpp'@'127.0.0.1' IDENTIFIED BY '" +
                                            escaped_password() + "'",
                                        error))
                    return false;
                if (first && !root.exec("GRANT ALL ON `mpp\\_%`.* TO 'mpp'@'localhost', "
                                        "'mpp'@'127.0.0.1'",
                                        error))
                    return false;
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
        return fail(error, "mariadbd did not answer within 30 s");
    }

    // Ends the server (SIGTERM, then waits for it): connections drop, new ones are refused.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    // Freezes the server (SIGSTOP) and thaws it (SIGCONT): connections stay open but nothing
    // answers, as when packets are dropped on the way.
    void freeze() {
        if (pid_ > 0) ::kill(pid_, SIGSTOP);
    }
    void thaw() {
        if (pid_ > 0) ::kill(pid_, SIGCONT);
    }

    bool running() const { return pid_ > 0; }
    std::string socket() const { return dir_ + "/mysqld.sock"; }
    unsigned port() const { return port_; }
    const std::string& dir() const { return dir_; }

    store::DbSettings root_settings() const {
        store::DbSettings s;
        s.url.user = "root";
        s.url.host = "localhost";
        s.url.socket = socket();
        s.url.database = "mysql";
        s.timeout = std::chrono::seconds(5);
        return s;
    }

    // Settings of user mpp for `database`, over the socket (or TCP when `tcp`).
    store::DbSettings settings(const std::string& database, bool tcp = false) const {
        store::DbSettings s;
        s.url.user = "mpp";
        s.url.database = database;
        if (tcp) {
            s.url.host = "127.0.0.1";
            s.url.port = port_;
        } else {
            s.url.host = "localhost";
            s.url.socket = socket();
        }
        s.password = kPassword;
        s.timeout = std::chrono::seconds(5);
        return s;
    }

    // A new empty database named mpp_NAME (dropped first when it exists).
    bool fresh_database(const std::string& name, std::string* error) {
        store::Db root(root_settings());
        return root.connect(error) && root.exec("DROP DATABASE IF EXISTS `" + name + "`", error) &&
               root.exec("CREATE DATABASE `" + name + "`", error);
    }

    static unsigned free_tcp_port() {
        Fd s(::socket(AF_INET, SOCK_STREAM, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
            return 0;
        return ntohs(a.sin_port);
    }

private:
    static bool fail(std::string* error, const std::string& why) {
        if (error) *error = why;
        return false;
    }

    static std::string escaped_password() {
        std::string out;
        for (char c : std::string(kPassword)) {
            if (c == '\'' || c == '\\') out += '\\';
            out += c;
        }
        return out;
    }

    // Starts `args` with stdout and stderr to `log`; the child dies with this process.
    static pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_t pid = ::fork();
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        return pid;
    }

    static int run(const std::vector<std::string>& args, const std::string& log) {
        pid_t pid = spawn(args, log);
        if (pid < 0) return -1;
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    std::string dir_;
    unsigned port_ = 0;
    pid_t pid_ = -1;
};

// The test binary's one server, started on first use; nullptr (and *why) when it can't run.
// Prints how long the set-up took and, at exit, how long the tests took after it.
inline MariaDbServer* shared_mariadb(std::string* why) {
    struct Shared {
        std::unique_ptr<MariaDbServer> server;
        std::string failure;
        bool tried = false;
        std::chrono::steady_clock::time_point ready;
        ~Shared() {
            if (!server) return;
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - ready)
                          .count();
            std::printf("# MariaDB tests after the set-up: %lld ms\n", static_cast<long long>(ms));
        }
    };
    static Shared shared;
    if (!shared.tried) {
        shared.tried = true;
        auto started = std::chrono::steady_clock::now();
        shared.server = std::make_unique<MariaDbServer>();
        if (!shared.server->start(&shared.failure)) shared.server.reset();
        shared.ready = std::chrono::steady_clock::now();
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(shared.ready - started).count();
        std::printf("# MariaDB server set-up (install + start): %lld ms\n",
                    static_cast<long long>(ms));
    }
    if (!shared.server && why) *why = shared.failure;
    return shared.server.get();
}

}  // namespace mpp::testing
