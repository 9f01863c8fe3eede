// lib/mail_submit.cc: message submission by a sendmail program or SMTP (see mail_submit.h).
#include "lib/mail_submit.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>

#include "lib/fd.h"
#include "lib/socket_spec.h"

namespace mpp::mail {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::size_t kMaxStderr = 4096;  // kept of the program's standard error
constexpr std::size_t kMaxShown = 200;    // of one line of it (or of a server reply)

std::string error_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string duration_text(milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    return std::to_string(d.count()) + "ms";
}

// The first non-empty line of a program's output or a server reply, printable ASCII only.
std::string first_line(std::string_view text) {
    std::size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    text.remove_prefix(start);
    text = text.substr(0, text.find_first_of("\r\n"));
    std::string out;
    for (char c : text.substr(0, kMaxShown)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (text.size() > kMaxShown) out += "...";
    return out;
}

bool bad_address_char(char c) {
    return c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>';
}

// CRLF -> LF (for a local program).
std::string to_lf(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) out += text[i];
    return out;
}

// Bare LF -> CRLF (for SMTP).
std::string to_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

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

// Appends what can be read now; false at end of file or on an error.
bool read_some(int fd, std::string& into) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            std::size_t room = kMaxStderr - std::min(kMaxStderr, into.size());
            into.append(buf, std::min(room, static_cast<std::size_t>(n)));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

void kill_and_reap(pid_t pid, int* status) {
    ::kill(-pid, SIGKILL);  // its process group: helpers it started too
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

std::vector<std::string> sendmail_argv(const Message& m, const std::string& program) {
    std::vector<std::string> argv{program, "-i", "-f", m.sender.empty() ? "<>" : m.sender, "--"};
    argv.insert(argv.end(), m.recipients.begin(), m.recipients.end());
    return argv;
}

std::string check_envelope(const Message& m) {
    if (std::any_of(m.sender.begin(), m.sender.end(), bad_address_char))
        return "bad sender address (CR, LF, NUL, < or >)";
    if (m.recipients.empty()) return "no recipients";
    for (const auto& r : m.recipients) {
        if (r.empty()) return "empty recipient address";
        if (std::any_of(r.begin(), r.end(), bad_address_char))
            return "bad recipient address (CR, LF, NUL, < or >)";
    }
    return {};
}

Result submit_sendmail(const Message& m, const SendmailOptions& o) {
    const std::string who = "sendmail " + o.program;
    if (std::string e = check_envelope(m); !e.empty()) return {who + ": " + e};
    if (o.program.empty() || o.program[0] != '/') return {who + ": not an absolute path"};

    std::vector<std::string> args = sendmail_argv(m, o.program);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // Its standard input is a socket, so that a program that exits without reading gives us
    // EPIPE from send(MSG_NOSIGNAL), never SIGPIPE.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return {who + ": socketpair: " + error_text(errno)};
    Fd in(sv[0]), child_in(sv[1]);
    int pe[2];
    if (::pipe2(pe, O_CLOEXEC) != 0) return {who + ": pipe: " + error_text(errno)};
    Fd err(pe[0]), child_err(pe[1]);

    SpawnActions fa;
    posix_spawn_file_actions_adddup2(&fa.a, child_in.get(), 0);
    posix_spawn_file_actions_addopen(&fa.a, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa.a, child_err.get(), 2);
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
    if (int rc = ::posix_spawn(&pid, o.program.c_str(), &fa.a, &attr.a, argv.data(), environ);
        rc != 0)
        return {who + ": cannot run: " + error_text(rc)};
    child_in.reset();
    child_err.reset();
    set_nonblock(in.get());
    set_nonblock(err.get());

    const std::string input = to_lf(m.text);
    std::size_t written = 0;
    if (input.empty()) in.reset();
    std::string stderr_text;
    int status = 0;
    bool exited = false;
    std::string stopped;  // why we killed it
    const auto deadline = steady_clock::now() + o.timeout;
    for (;;) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            exited = true;
            break;
        }
        if (r < 0 && errno != EINTR) {  // not ours to wait for any more (SIGCHLD ignored?)
            int e = errno;
            kill_and_reap(pid, &status);
            return {who + ": waitpid: " + error_text(e)};
        }
        if (o.cancel && o.cancel->load()) {
            stopped = "cancelled (killed)";
            break;
        }
        auto now = steady_clock::now();
        if (now >= deadline) {
            stopped = "timed out after " + duration_text(o.timeout) + " (killed)";
            break;
        }
        pollfd fds[2];
        nfds_t n = 0;
        if (in) fds[n++] = {in.get(), POLLOUT, 0};
        if (err) fds[n++] = {err.get(), POLLIN, 0};
        // Short naps: the child's exit and a cancel are noticed by polling them.
        auto nap = std::min(std::chrono::ceil<milliseconds>(deadline - now),
                            milliseconds(n ? 50 : 5));
        int ready = ::poll(fds, n, static_cast<int>(nap.count()));
        if (ready <= 0) continue;
        for (nfds_t i = 0; i < n; ++i) {
            if (!fds[i].revents) continue;
            if (in && fds[i].fd == in.get()) {
                ssize_t w = ::send(in.get(), input.data() + written, input.size() - written,
                                   MSG_NOSIGNAL);
                if (w > 0) written += static_cast<std::size_t>(w);
                if ((w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
                    written == input.size())
                    in.reset();  // all written (EOF for the child), or it stopped reading
            } else if (err && fds[i].fd == err.get()) {
                if (!read_some(err.get(), stderr_text)) err.reset();
            }
        }
    }
    if (!stopped.empty()) kill_and_reap(pid, &status);
    if (err) read_some(err.get(), stderr_text);  // what it wrote before it exited

    std::string line = first_line(stderr_text);
    std::string tail = line.empty() ? "" : ": " + line;
    if (!stopped.empty()) return {who + ": " + stopped + tail};
    if (exited && WIFSIGNALED(status))
        return {who + ": killed by signal " + std::to_string(WTERMSIG(status)) + tail};
    if (exited && WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return {who + ": exit status " + std::to_string(WEXITSTATUS(status)) + tail};
    if (written < input.size())
        return {who + ": exited before reading the whole message (" + std::to_string(written) +
                " of " + std::to_string(input.size()) + " bytes)" + tail};
    return {};
}

// ---- SMTP ---------------------------------------------------------------------------------
namespace {

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct CurlSlistDeleter {
    void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// What the callbacks of one transfer share.
struct Transfer {
    std::string_view data;
    std::size_t pos = 0;
    const std::atomic<bool>* cancel = nullptr;
    std::string last_reply;  // the server's last reply line (for the error)
};

// libcurl callbacks: plain copies, nothing that throws.
std::size_t read_body(char* buf, std::size_t size, std::size_t nitems, void* userdata) noexcept {
    auto* t = static_cast<Transfer*>(userdata);
    std::size_t n = std::min(size * nitems, t->data.size() - t->pos);
    std::memcpy(buf, t->data.data() + t->pos, n);
    t->pos += n;
    return n;
}

int on_progress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
    auto* t = static_cast<Transfer*>(userdata);
    return t->cancel && t->cancel->load() ? 1 : 0;
}

int on_debug(CURL*, curl_infotype type, char* data, std::size_t size, void* userdata) noexcept {
    if (type != CURLINFO_HEADER_IN) return 0;
    auto* t = static_cast<Transfer*>(userdata);
    std::string_view line(data, size);
    if (line.size() >= 3 && line[0] >= '2' && line[0] <= '5') {
        try {
            t->last_reply = first_line(line);
        } catch (...) {  // out of memory: the error text is poorer, nothing else
        }
    }
    return 0;
}

bool helo_ok(const std::string& s) {
    return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_';
    });
}

void curl_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Result submit_smtp(const Message& m, const SmtpOptions& o) {
    const std::string who = "smtp " + o.relay;
    if (std::string e = check_envelope(m); !e.empty()) return {who + ": " + e};
    std::string perr;
    auto spec = SocketSpec::parse_listen(o.relay, &perr);
    if (!spec) return {who + ": " + perr};
    std::string url = "smtp://";
    if (spec->kind == SocketSpec::Kind::unix_path) {
        url += "localhost";
    } else {
        if (spec->host.empty()) return {who + ": the relay needs a host"};
        url += spec->kind == SocketSpec::Kind::inet6 ? "[" + spec->host + "]" : spec->host;
        url += ":" + std::to_string(spec->port);
    }
    url += "/";
    if (helo_ok(o.helo)) url += o.helo;

    curl_init_once();
    CurlPtr c(curl_easy_init());
    if (!c) return {who + ": cannot create a libcurl handle"};
    CurlSlistPtr rcpts;
    for (const auto& r : m.recipients) {
        curl_slist* next = curl_slist_append(rcpts.get(), ("<" + r + ">").c_str());
        if (!next) return {who + ": out of memory"};
        (void)rcpts.release();
        rcpts.reset(next);
    }
    const std::string text = to_crlf(m.text);
    const std::string from = "<" + m.sender + ">";
    Transfer t{text, 0, o.cancel, {}};
    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL* h = c.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP));
#endif
    if (spec->kind == SocketSpec::Kind::unix_path)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, spec->path.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(text.size()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // feeds on_debug only
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) return {};
    std::string what;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        what = "cancelled";
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        what = "timed out (connect " + duration_text(o.connect_timeout) + ", total " +
               duration_text(o.timeout) + ")";
    else
        what = errbuf[0] ? first_line(errbuf) : curl_easy_strerror(rc);
    // The server's last word, when it refused something.
    if (!t.last_reply.empty() && t.last_reply[0] >= '4') what += ": " + t.last_reply;
    return {who + ": " + what};
}

}  // namespace mpp::mail
