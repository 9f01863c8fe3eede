// lib/subprocess.cc: running a program with a deadline (see subprocess.h).
#include "lib/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "lib/fd.h"

namespace mpp::proc {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kChunk = 64 * 1024;   // one read or one piece of input
constexpr int kChunksPerWake = 16;          // then the deadline is looked at again
constexpr milliseconds kCancelPoll{50};     // how often *cancel is looked at
constexpr milliseconds kExitPollOpen{50};   // exit checks without a pidfd, output still open
constexpr milliseconds kExitPollClosed{5};  // ... after its end of file

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// RAII for the posix_spawn attribute objects.
struct SpawnAttr {
    posix_spawnattr_t a;
    SpawnAttr() { posix_spawnattr_init(&a); }
    ~SpawnAttr() { posix_spawnattr_destroy(&a); }
    SpawnAttr(const SpawnAttr&) = delete;
    SpawnAttr& operator=(const SpawnAttr&) = delete;
};

struct SpawnActions {
    posix_spawn_file_actions_t a;
    SpawnActions() { posix_spawn_file_actions_init(&a); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&a); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
};

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

enum class Pumped { exited, time, cancelled, input_failed, wait_failed };

// One run's descriptors and buffers.
struct Run {
    Run(const Options& opts, Result& result) : o(opts), r(result) {}

    const Options& o;
    Result& r;
    pid_t pid = -1;
    Fd in;     // the child's standard input (ours to write); closed at the end of input
    Fd out;    // its output (ours to read); closed at its end of file
    Fd pidfd;  // readable when it exits; none when the kernel has no pidfd_open
    std::vector<char> buf;
    std::size_t buf_pos = 0, buf_len = 0;
    int wait_errno = 0;

    // Reads what is there (a bounded amount); false at end of file or on an error.
    bool read_output() {
        char chunk[8192];
        for (int i = 0; i < kChunksPerWake * 8; ++i) {
            ssize_t n = ::read(out.get(), chunk, sizeof chunk);
            if (n > 0) {
                r.output_bytes += static_cast<std::uint64_t>(n);
                std::size_t room = o.max_output - std::min(o.max_output, r.output.size());
                r.output.append(chunk, std::min(room, static_cast<std::size_t>(n)));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
        return true;
    }

    // Writes what the child takes now (a bounded amount); false when the input failed. The
    // buffer is refilled as soon as it is empty, so the end of the input is seen (and the
    // child gets its end of file) right after the last byte went out.
    bool feed() {
        for (int i = 0; in;) {
            if (buf_pos == buf_len) {
                long n = o.input(buf.data(), buf.size());
                if (n < 0) return false;
                if (n == 0) {
                    r.input_complete = true;
                    in.reset();  // end of file for the child
                    return true;
                }
                buf_pos = 0;
                buf_len = std::min(static_cast<std::size_t>(n), buf.size());
            }
            if (i++ == kChunksPerWake) return true;
            ssize_t w = ::send(in.get(), buf.data() + buf_pos, buf_len - buf_pos, MSG_NOSIGNAL);
            if (w > 0) {
                buf_pos += static_cast<std::size_t>(w);
                r.input_bytes += static_cast<std::uint64_t>(w);
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return true;
            } else {
                in.reset();  // it stopped reading (EPIPE, ECONNRESET)
            }
        }
        return true;
    }

    // Whether the child has exited, leaving it unreaped (so its pid and group id stay ours).
    bool exited() {
        for (;;) {
            siginfo_t info{};
            if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
                return info.si_pid == pid;
            if (errno == EINTR) continue;
            wait_errno = errno;  // ECHILD: SIGCHLD is ignored and the system reaped it
            return false;
        }
    }

    // Feeds input and reads output until the child exits or `until`.
    Pumped pump(Clock::time_point until, bool feeding) {
        for (;;) {
            if (exited()) return Pumped::exited;
            if (wait_errno) return Pumped::wait_failed;
            if (o.cancel && o.cancel->load()) return Pumped::cancelled;
            auto now = Clock::now();
            if (now >= until) return Pumped::time;
            pollfd fds[3];
            nfds_t n = 0;
            int in_at = -1, out_at = -1;
            if (in && feeding) {
                in_at = static_cast<int>(n);
                fds[n++] = {in.get(), POLLOUT, 0};
            }
            if (out) {
                out_at = static_cast<int>(n);
                fds[n++] = {out.get(), POLLIN, 0};
            }
            if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
            auto nap = std::chrono::ceil<milliseconds>(until - now);
            if (!pidfd) nap = std::min(nap, out ? kExitPollOpen : kExitPollClosed);
            if (o.cancel) nap = std::min(nap, kCancelPoll);
            if (::poll(fds, n, static_cast<int>(nap.count())) <= 0) continue;
            if (out_at >= 0 && fds[out_at].revents && !read_output()) out.reset();
            if (in_at >= 0 && fds[in_at].revents && !feed()) return Pumped::input_failed;
        }
    }

    void signal_group(int sig) const {
        ::kill(-pid, sig);  // its process group: what it started too
        ::kill(pid, sig);   // itself, should it have left the group
    }
};

}  // namespace

std::string first_line(std::string_view text, std::size_t max) {
    std::size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    text.remove_prefix(start);
    text = text.substr(0, text.find_first_of("\r\n"));
    std::string out;
    for (char c : text.substr(0, max)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (text.size() > max) out += "...";
    return out;
}

std::string duration_text(milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    if (d < std::chrono::seconds(10)) return std::to_string(d.count()) + "ms";
    return std::to_string((d.count() + 500) / 1000) + "s";
}

Result run(const Options& o) {
    Result r;
    if (o.argv.empty() || o.argv[0].empty() || o.argv[0][0] != '/') {
        r.error = "not an absolute path";
        return r;
    }
    if (Clock::now() >= o.deadline) {
        r.end = Result::End::timeout;
        return r;
    }
    std::vector<char*> argv;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (o.env) {
        for (const auto& e : *o.env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }

    Run st(o, r);
    Fd child_in;
    if (o.input) {
        // A socket, so that a child that stops reading gives EPIPE from send(MSG_NOSIGNAL).
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            r.error = "socketpair: " + error_text(errno);
            return r;
        }
        st.in.reset(sv[0]);
        child_in.reset(sv[1]);
        st.buf.resize(kChunk);
    } else {
        r.input_complete = true;
    }
    int pe[2];
    if (::pipe2(pe, O_CLOEXEC) != 0) {
        r.error = "pipe: " + error_text(errno);
        return r;
    }
    st.out.reset(pe[0]);
    Fd child_out(pe[1]);

    SpawnActions fa;
    if (o.input)
        posix_spawn_file_actions_adddup2(&fa.a, child_in.get(), 0);
    else
        posix_spawn_file_actions_addopen(&fa.a, 0, "/dev/null", O_RDONLY, 0);
    if (o.output == Output::combined)
        posix_spawn_file_actions_adddup2(&fa.a, child_out.get(), 1);
    else
        posix_spawn_file_actions_addopen(&fa.a, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa.a, child_out.get(), 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa.a, 3);
#endif
    SpawnAttr attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr.a, &none);
    posix_spawnattr_setsigdefault(&attr.a, &all);
    posix_spawnattr_setpgroup(&attr.a, 0);
    posix_spawnattr_setflags(&attr.a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                          POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    if (int rc = ::posix_spawn(&pid, argv[0], &fa.a, &attr.a, argv.data(),
                               o.env ? envp.data() : environ);
        rc != 0) {
        r.error = error_text(rc);
        return r;
    }
    r.pid = st.pid = pid;
    child_in.reset();
    child_out.reset();
    if (st.in) set_nonblock(st.in.get());
    set_nonblock(st.out.get());
#ifdef SYS_pidfd_open
    if (long fd = ::syscall(SYS_pidfd_open, pid, 0); fd >= 0) st.pidfd.reset(static_cast<int>(fd));
#endif

    Pumped p = st.pump(o.deadline, true);
    const bool stopped =
        p == Pumped::time || p == Pumped::cancelled || p == Pumped::input_failed;
    if (stopped) {
        r.end = p == Pumped::time        ? Result::End::timeout
                : p == Pumped::cancelled ? Result::End::cancelled
                                         : Result::End::input_failed;
        st.in.reset();
        if (o.term_grace.count() > 0) {
            st.signal_group(SIGTERM);
            p = st.pump(Clock::now() + o.term_grace, false);
        }
        if (p != Pumped::wait_failed) st.signal_group(SIGKILL);
    } else if (p == Pumped::exited && o.kill_group_on_exit) {
        ::kill(-pid, SIGKILL);  // what it left behind; it is still unreaped, so the id is its
    }
    if (st.out) st.read_output();  // what it wrote before it ended
    if (p == Pumped::wait_failed) {  // already reaped by the system: nothing to wait for
        r.end = Result::End::wait_failed;
        r.error = "waitpid: " + error_text(st.wait_errno);
        return r;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (stopped) return r;
    if (WIFEXITED(status)) {
        r.end = Result::End::exited;
        r.exit_code = WEXITSTATUS(status);
    } else {
        r.end = Result::End::signaled;
        r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return r;
}

}  // namespace mpp::proc
