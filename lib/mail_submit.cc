// lib/mail_submit.cc: message submission by a sendmail program or SMTP (see mail_submit.h).
#include "lib/mail_submit.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include "lib/socket_spec.h"
#include "lib/subprocess.h"

namespace mpp::mail {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::size_t kMaxStderr = 4096;  // kept of the program's standard error
constexpr std::size_t kMaxShown = 200;    // of one line of it (or of a server reply)

using proc::duration_text;

std::string first_line(std::string_view text) { return proc::first_line(text, kMaxShown); }

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

    proc::Options po;
    po.argv = sendmail_argv(m, o.program);
    const std::string input = to_lf(m.text);
    std::size_t pos = 0;
    po.input = [&](char* buf, std::size_t n) -> long {
        n = std::min(n, input.size() - pos);
        std::memcpy(buf, input.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
    };
    po.output = proc::Output::stderr_only;
    po.max_output = kMaxStderr;
    po.deadline = steady_clock::now() + o.timeout;
    po.cancel = o.cancel;
    proc::Result r = proc::run(po);

    std::string line = first_line(r.output);
    std::string tail = line.empty() ? "" : ": " + line;
    using End = proc::Result::End;
    switch (r.end) {
    case End::spawn_failed:
        return {who + ": cannot run: " + r.error};
    case End::wait_failed:
        return {who + ": " + r.error};
    case End::timeout:
        return {who + ": timed out after " + duration_text(o.timeout) + " (killed)" + tail};
    case End::cancelled:
        return {who + ": cancelled (killed)" + tail};
    case End::input_failed:  // our input never fails
    case End::signaled:
        return {who + ": killed by signal " + std::to_string(r.signal) + tail};
    case End::exited:
        break;
    }
    if (r.exit_code != 0)
        return {who + ": exit status " + std::to_string(r.exit_code) + tail};
    if (!r.input_complete)
        return {who + ": exited before reading the whole message (" +
                std::to_string(r.input_bytes) + " of " + std::to_string(input.size()) +
                " bytes)" + tail};
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
