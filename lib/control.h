// lib/control.h: the control-socket line protocol, shared by mppd (server) and mppctl (client).
//
// Wire format (unix stream socket, mode 0660):
//   request  = verb *( SP arg ) LF            ; at most 4096 bytes; args percent-encoded
//   response = *( "| " text LF ) status LF    ; data lines, then exactly one status line
//   status   = "OK" [ SP text ] / "ERR" [ SP text ]
// Several requests may follow on one connection; the server answers them in order. An arg or a
// data line that contains a byte below 0x21, '%' or a byte >= 0x7f is sent percent-encoded
// (%XX) in requests (args never hold NUL: "%00" alone is an empty arg); data lines are sent as is except LF and CR, which are replaced by spaces.
// Verbs are registered by name at start-up (milter/control_server.h): later features add verbs
// without changing this format. `help` lists them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpp::control {

constexpr std::size_t kMaxRequest = 4096;

struct Request {
    std::string verb;
    std::vector<std::string> args;
};

struct Response {
    bool ok = false;
    std::string status_text;        // text after OK/ERR
    std::vector<std::string> lines; // data lines, without the "| " prefix
};

// Encodes a request line (with its LF).
std::string encode_request(const Request&);
// Parses one request line (without LF). nullopt when it is malformed (empty verb, bad %XX).
std::optional<Request> decode_request(std::string_view line);
// Encodes a full response (data lines, then the status line).
std::string encode_response(const Response&);

// Client: connects to `socket_path`, sends one request, reads the response. On a transport
// failure (no socket, refused, timeout, malformed reply) returns ok=false with status_text
// explaining it and sets *transport_error.
Response call(const std::string& socket_path, const Request&, std::chrono::milliseconds timeout,
              bool* transport_error = nullptr);

}  // namespace mpp::control
