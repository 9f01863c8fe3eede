// lib/control.cc: encoding of the control-socket protocol and the blocking client (see control.h).
#include "lib/control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/fd.h"

namespace mpp::control {
namespace {

bool needs_escape(unsigned char c) { return c < 0x21 || c == '%' || c >= 0x7f; }

std::string percent_encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (needs_escape(c)) {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

}  // namespace

std::string encode_request(const Request& r) {
    std::string out = percent_encode(r.verb);
    for (const auto& a : r.args) {
        out += ' ';
        out += a.empty() ? std::string("%00") : percent_encode(a);
    }
    out += '\n';
    return out;
}

std::optional<Request> decode_request(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxRequest) return std::nullopt;
    Request r;
    std::size_t pos = 0;
    bool first = true;
    while (pos <= line.size()) {
        std::size_t sp = line.find(' ', pos);
        if (sp == std::string_view::npos) sp = line.size();
        std::string_view word = line.substr(pos, sp - pos);
        pos = sp + 1;
        if (word.empty()) {
            if (sp == line.size()) break;
            continue;  // several spaces in a row
        }
        auto decoded = percent_decode(word);
        if (!decoded) return std::nullopt;
        if (*decoded == std::string(1, '\0')) decoded->clear();  // "%00" alone: an empty arg
        if (first) {
            r.verb = *decoded;
            first = false;
        } else {
            r.args.push_back(*decoded);
        }
    }
    if (r.verb.empty()) return std::nullopt;
    return r;
}

std::string encode_response(const Response& r) {
    std::string out;
    for (const auto& l : r.lines) {
        out += "| ";
        out += one_line(l);
        out += '\n';
    }
    out += r.ok ? "OK" : "ERR";
    if (!r.status_text.empty()) {
        out += ' ';
        out += one_line(r.status_text);
    }
    out += '\n';
    return out;
}

Response call(const std::string& socket_path, const Request& req, std::chrono::milliseconds timeout,
              bool* transport_error) {
    Response resp;
    auto fail = [&](std::string why) {
        if (transport_error) *transport_error = true;
        resp.ok = false;
        resp.lines.clear();
        resp.status_text = std::move(why);
        return resp;
    };
    if (transport_error) *transport_error = false;

    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(sa.sun_path)) return fail("socket path too long: " + socket_path);
    std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);

    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
        return fail("cannot connect to " + socket_path + ": " + std::strerror(errno));

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto wait_for = [&](short events) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd.get(), events, 0};
        int n;
        do n = ::poll(&p, 1, static_cast<int>(left.count()));
        while (n < 0 && errno == EINTR);
        return n > 0;
    };

    std::string out = encode_request(req);
    std::size_t sent = 0;
    while (sent < out.size()) {
        if (!wait_for(POLLOUT)) return fail("timed out sending to " + socket_path);
        ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(std::string("send: ") + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }

    constexpr std::size_t kMaxResponse = 16 * 1024 * 1024;
    std::string buf;
    std::size_t scanned = 0;
    for (;;) {
        std::size_t nl;
        while ((nl = buf.find('\n', scanned)) != std::string::npos) {
            std::string line = buf.substr(scanned, nl - scanned);
            scanned = nl + 1;
            if (line.rfind("| ", 0) == 0) {
                resp.lines.push_back(line.substr(2));
            } else if (line == "OK" || line.rfind("OK ", 0) == 0) {
                resp.ok = true;
                resp.status_text = line.size() > 3 ? line.substr(3) : "";
                return resp;
            } else if (line == "ERR" || line.rfind("ERR ", 0) == 0) {
                resp.ok = false;
                resp.status_text = line.size() > 4 ? line.substr(4) : "";
                return resp;
            } else {
                return fail("malformed reply line from " + socket_path);
            }
        }
        if (buf.size() > kMaxResponse) return fail("reply too long from " + socket_path);
        if (!wait_for(POLLIN)) return fail("timed out waiting for a reply from " + socket_path);
        char chunk[8192];
        ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("recv: ") + std::strerror(errno));
        if (n == 0) return fail("connection closed before the reply ended");
        buf.append(chunk, static_cast<std::size_t>(n));
    }
}

}  // namespace mpp::control
