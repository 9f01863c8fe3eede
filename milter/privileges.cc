// milter/privileges.cc: user switch, directories, pidfile, daemonizing (see privileges.h).
#include "milter/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "lib/fd.h"

namespace mpp::milter {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::optional<RunAs> resolve_run_as(const std::string& user, const std::string& group,
                                    std::string* error, std::string* warning) {
    RunAs who;
    const bool root = ::geteuid() == 0;
    if (user.empty()) {
        if (root) {
            *error = "refusing to run as root: set <daemon user=\"...\"> to the account mppd "
                     "should run as (e.g. mpp)";
            return std::nullopt;
        }
        return who;
    }
    std::vector<char> buf(16384);
    passwd pw{}, *pwp = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pwp) != 0 || !pwp) {
        *error = "unknown user \"" + user + "\" in <daemon user>";
        return std::nullopt;
    }
    who.name = user;
    who.uid = pw.pw_uid;
    who.gid = pw.pw_gid;
    if (!group.empty()) {
        struct group gr{}, *grp = nullptr;
        std::vector<char> gbuf(16384);
        if (getgrnam_r(group.c_str(), &gr, gbuf.data(), gbuf.size(), &grp) != 0 || !grp) {
            *error = "unknown group \"" + group + "\" in <daemon group>";
            return std::nullopt;
        }
        who.gid = gr.gr_gid;
    }
    if (root) {
        who.switch_user = who.uid != 0;
        if (who.uid == 0) {
            *error = "refusing to run as root: <daemon user=\"" + user + "\"> is root";
            return std::nullopt;
        }
    } else if (::geteuid() != who.uid) {
        *warning = "not started as root: running as uid " + std::to_string(::geteuid()) +
                   ", not as <daemon user=\"" + user + "\">";
        who = RunAs{};
    }
    return who;
}

namespace {

// mkdir -p, every directory created 0755 and left to the starting user.
bool make_dirs(const std::string& dir, std::string* error) {
    struct stat st{};
    if (dir.empty() || ::stat(dir.c_str(), &st) == 0) return true;
    auto slash = dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0 && !make_dirs(dir.substr(0, slash), error))
        return false;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        *error = errno_text("mkdir " + dir);
        return false;
    }
    return true;
}

}  // namespace

bool ensure_dir(const std::string& dir, const RunAs& who, std::string* error) {
    if (dir.empty()) return true;
    struct stat st{};
    if (::stat(dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return true;
        *error = dir + " exists and is not a directory";
        return false;
    }
    if (!make_dirs(dir, error)) return false;
    if (who.switch_user && ::chown(dir.c_str(), who.uid, who.gid) != 0) {
        *error = errno_text("chown " + dir);
        return false;
    }
    return true;
}

bool write_pidfile(const std::string& path, std::string* error) {
    if (path.empty()) return true;
    {
        std::ifstream in(path);
        long pid = 0;
        if (in >> pid && pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) == 0) {
            std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
            std::string name;
            if (comm >> name && name == "mppd") {
                *error = "pidfile " + path + " names a running mppd (pid " + std::to_string(pid) + ")";
                return false;
            }
        }
    }
    std::string tmp = path + ".tmp";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) {
        *error = errno_text("cannot write pidfile " + tmp);
        return false;
    }
    std::string text = std::to_string(::getpid()) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::rename(tmp.c_str(), path.c_str()) != 0) {
        *error = errno_text("cannot write pidfile " + path);
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

bool drop_privileges(const RunAs& who, std::string* error) {
    if (!who.switch_user) return true;
    if (::initgroups(who.name.c_str(), who.gid) != 0) {
        *error = errno_text("initgroups " + who.name);
        return false;
    }
    if (::setgid(who.gid) != 0) {
        *error = errno_text("setgid");
        return false;
    }
    if (::setuid(who.uid) != 0) {
        *error = errno_text("setuid");
        return false;
    }
    if (::setuid(0) == 0 || ::geteuid() == 0) {
        *error = "privileges could be regained after dropping them";
        return false;
    }
    return true;
}

int daemonize(std::string* error) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        *error = errno_text("pipe");
        return -1;
    }
    Fd rd(fds[0]), wr(fds[1]);
    pid_t pid = ::fork();
    if (pid < 0) {
        *error = errno_text("fork");
        return -1;
    }
    if (pid > 0) {  // the parent: wait for the child's word, exit with it
        wr.reset();
        std::string msg;
        char buf[512];
        ssize_t n;
        while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
        if (msg == "ok") ::_exit(0);
        std::fprintf(stderr, "mppd: %s\n", msg.empty() ? "failed to start (see the log)" : msg.c_str());
        ::_exit(2);
    }
    rd.reset();
    ::setsid();
    if (::chdir("/") != 0) {
        // not fatal: relative paths in the config are already resolved
    }
    Fd null(::open("/dev/null", O_RDWR));
    if (null) {
        ::dup2(null.get(), 0);
        ::dup2(null.get(), 1);
        ::dup2(null.get(), 2);
    }
    return wr.release();
}

void report_ready(int& fd, const std::string& error_or_empty) {
    if (fd < 0) return;
    std::string msg = error_or_empty.empty() ? "ok" : error_or_empty;
    ssize_t n = ::write(fd, msg.data(), msg.size());
    (void)n;
    ::close(fd);
    fd = -1;
}

}  // namespace mpp::milter
