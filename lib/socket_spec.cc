// lib/socket_spec.cc: parsing and printing of milter and listen socket addresses (see
// socket_spec.h).
//
// State: values only; thread-safe.
// Rules, stricter than libmilter where libmilter would guess: the type prefix is lower case and
// required (a bare path is refused, with a hint); PORT is 1..65535 in decimal (no service
// names); HOST after '@' is not empty: an IPv4 address or a host name for inet, an IPv6 address
// (without brackets) or a host name for inet6; a unix path is absolute, has no NUL and fits in
// sockaddr_un.sun_path with its terminating NUL (at most 107 bytes on Linux). "local:" is read
// as "unix:". Listen sockets: "HOST:PORT" (IPv4 address or name), "[IPV6]:PORT", "*:PORT" (every
// address, host empty) or "unix:/path".
// Failures: nullopt and an error text `bad milter socket "TEXT": why` or
// `bad listen address "TEXT": why`.
#include "lib/socket_spec.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdio>

#include "lib/address.h"
#include "lib/quote.h"

namespace mpp {
namespace {

constexpr std::size_t kMaxPath = sizeof(sockaddr_un{}.sun_path) - 1;

// The reason a text is not a port number, or "" when it is one.
std::string port_error(std::string_view s, unsigned& port) {
    if (s.empty()) return "missing port";
    if (s.find_first_not_of("0123456789") != std::string_view::npos)
        return "port " + quoted(s) + " is not a number from 1 to 65535";
    unsigned v = 0;
    for (char c : s) v = std::min(v * 10 + static_cast<unsigned>(c - '0'), 65536u);
    if (v == 0 || v > 65535) return "port " + quoted(s) + " is out of range 1..65535";
    port = v;
    return "";
}

std::string path_error(std::string_view path) {
    if (path.empty()) return "missing socket path";
    if (path.front() != '/') return "socket path must be absolute (start with '/')";
    if (path.find('\0') != std::string_view::npos) return "socket path contains a NUL byte";
    if (path.size() > kMaxPath)
        return "socket path is longer than " + std::to_string(kMaxPath) + " bytes";
    return "";
}

bool is_ipv4(std::string_view s) {
    std::string z(s);
    in_addr a{};
    return !s.empty() && s.find('\0') == std::string_view::npos &&
           inet_pton(AF_INET, z.c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
    std::string z(s);
    in6_addr a{};
    return !s.empty() && s.find('\0') == std::string_view::npos &&
           inet_pton(AF_INET6, z.c_str(), &a) == 1;
}

// A host name: a valid domain that is not all digits and dots (so "1.2.3" is not taken for a
// name when the admin meant an address).
bool is_host_name(std::string_view s) {
    return valid_domain(s) && s.find_first_not_of("0123456789.") != std::string_view::npos;
}

}  // namespace

std::optional<SocketSpec> SocketSpec::parse_milter(std::string_view text, std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<SocketSpec> {
        if (error) *error = "bad milter socket " + quoted(text) + ": " + why;
        return std::nullopt;
    };
    auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        if (!text.empty() && text.front() == '/') return fail("write unix:" + std::string(text));
        return fail("expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path");
    }
    const auto type = text.substr(0, colon);
    const auto rest = text.substr(colon + 1);
    SocketSpec s;
    if (type == "unix" || type == "local") {
        s.kind = Kind::unix_path;
        if (auto e = path_error(rest); !e.empty()) return fail(e);
        s.path = std::string(rest);
        return s;
    }
    if (type != "inet" && type != "inet6")
        return fail("unknown socket type " + quoted(type) +
                    " (expected inet, inet6, unix or local)");
    s.kind = type == "inet" ? Kind::inet : Kind::inet6;
    auto at = rest.find('@');
    if (auto e = port_error(rest.substr(0, at), s.port); !e.empty()) return fail(e);
    if (at == std::string_view::npos) return s;
    const auto host = rest.substr(at + 1);
    if (host.empty()) return fail("missing host after '@'");
    if (s.kind == Kind::inet && !is_ipv4(host) && !is_host_name(host)) {
        if (is_ipv6(host)) return fail("an IPv6 address needs inet6:PORT@HOST");
        return fail("host " + quoted(host) + " is not an IPv4 address or a host name");
    }
    if (s.kind == Kind::inet6 && !is_ipv6(host) && !is_host_name(host))
        return fail("host " + quoted(host) +
                    " is not an IPv6 address (without brackets) or a host name");
    s.host = std::string(host);
    return s;
}

std::optional<SocketSpec> SocketSpec::parse_listen(std::string_view text, std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<SocketSpec> {
        if (error) *error = "bad listen address " + quoted(text) + ": " + why;
        return std::nullopt;
    };
    SocketSpec s;
    if (text.substr(0, 5) == "unix:") {
        s.kind = Kind::unix_path;
        if (auto e = path_error(text.substr(5)); !e.empty()) return fail(e);
        s.path = std::string(text.substr(5));
        return s;
    }
    for (std::string_view prefix : {"inet:", "inet6:"}) {
        if (text.substr(0, prefix.size()) == prefix)
            return fail("no type prefix here: write " + std::string(text.substr(prefix.size())));
    }
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
        host = text.substr(1, close - 1);
        if (close + 1 >= text.size() || text[close + 1] != ':') return fail("expected [IPV6]:PORT");
        port = text.substr(close + 2);
        if (!is_ipv6(host)) return fail("not an IPv6 address between the brackets");
        s.kind = Kind::inet6;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail("expected HOST:PORT, [IPV6]:PORT or unix:/path");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (is_ipv6(host)) return fail("an IPv6 address needs brackets: [ADDRESS]:PORT");
        if (host.empty())
            return fail("missing host before the port (write *:PORT for every address)");
        if (host == "*") {
            host = {};
        } else if (!is_ipv4(host) && !is_host_name(host)) {
            return fail("host " + quoted(host) + " is not an IPv4 address or a host name");
        }
        s.kind = Kind::inet;
    }
    if (auto e = port_error(port, s.port); !e.empty()) return fail(e);
    s.host = std::string(host);
    return s;
}

std::string SocketSpec::milter_str() const {
    switch (kind) {
        case Kind::unix_path: return "unix:" + path;
        case Kind::inet6: return "inet6:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
        case Kind::inet: break;
    }
    return "inet:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
}

std::string SocketSpec::str() const {
    switch (kind) {
        case Kind::unix_path: return "unix:" + path;
        case Kind::inet6:
            return "[" + (host.empty() ? std::string("::") : host) + "]:" + std::to_string(port);
        case Kind::inet: break;
    }
    return (host.empty() ? std::string("*") : host) + ":" + std::to_string(port);
}

}  // namespace mpp
