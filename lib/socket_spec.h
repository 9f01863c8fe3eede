// lib/socket_spec.h: socket addresses as written in the config.
//
// Milter sockets use libmilter's own syntax, and are validated here the way libmilter would
// accept them: "inet:PORT", "inet:PORT@HOST" (HOST an IPv4 address or a name), "inet6:PORT",
// "inet6:PORT@HOST" (IPv6 address or name), "unix:/abs/path" or "local:/abs/path". PORT 1..65535.
// Listen sockets (policy server) use "HOST:PORT", "[IPV6]:PORT", "*:PORT" (every address: host
// left empty) or "unix:/abs/path". A unix path must fit in sockaddr_un (107 bytes on Linux). Errors
// read `bad milter socket "TEXT": why` / `bad listen address "TEXT": why`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mpp {

struct SocketSpec {
    enum class Kind { inet, inet6, unix_path };
    Kind kind = Kind::inet;
    std::string host;   // empty: any address (inet/inet6 without @HOST)
    unsigned port = 0;  // inet/inet6
    std::string path;   // unix

    // libmilter form; nullopt with *error when libmilter would not accept it.
    static std::optional<SocketSpec> parse_milter(std::string_view, std::string* error = nullptr);
    // HOST:PORT / [V6]:PORT / unix:/path.
    static std::optional<SocketSpec> parse_listen(std::string_view, std::string* error = nullptr);
    std::string milter_str() const;  // back to libmilter's syntax (for smfi_setconn)
    // HOST:PORT / [V6]:PORT / *:PORT / unix:/path; parse_listen(str()) gives back a listen spec.
    std::string str() const;
};

}  // namespace mpp
