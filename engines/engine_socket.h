// engines/engine_socket.h: a stream connection to a content engine (spamd, clamd) whose every
// step ends by a deadline.
//
// Owns: one non-blocking socket (Fd, closed with the object; move-only).
// Address: as written in <spamd address>/<clamd address>, parsed by lib/socket_spec.h's
// SocketSpec::parse_listen (the parser the config validated it with): "HOST:PORT" (an IPv4
// address or a host name), "[IPV6]:PORT" or "unix:/path". "*:PORT" names no host and is an
// error here. A host name is looked up with getaddrinfo on a helper thread that the caller waits
// for until the deadline (a lookup still running then finishes on its own and is dropped);
// every address it gives is tried in turn. TCP sockets get TCP_NODELAY (a request written in
// parts is not held back by Nagle's algorithm against the engine's delayed ACK).
// Deadline: connect, each write and each read wait with poll() for what is left of the
// deadline; a call that finds it passed fails at once.
// Threads: an object is used by one thread at a time; different objects are independent.
// Failures: values, never exceptions: false (or nullopt, or -1) and a text for the log line:
//   "connect 127.0.0.1:783: Connection refused"
//   "timeout after 30s while reading from unix:/run/clamav/clamd.ctl"
//   "write to 127.0.0.1:783: Broken pipe" (SIGPIPE is never raised: send() with MSG_NOSIGNAL)
//   "answer from 127.0.0.1:783 longer than 65536 bytes"
// The time in a timeout text is the whole budget: from the start of connect() to the deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engines/scanner.h"
#include "lib/fd.h"

namespace mpp::engines {

class EngineSocket {
public:
    // Connects to `address` by `deadline`; nullopt with *error when it can't.
    static std::optional<EngineSocket> connect(std::string_view address, Deadline deadline,
                                               std::string* error);

    EngineSocket(EngineSocket&&) noexcept = default;
    EngineSocket& operator=(EngineSocket&&) noexcept = default;

    // Writes all of `data`; false with *error on a failure or at the deadline.
    bool write_all(std::string_view data, Deadline deadline, std::string* error);
    // Reads up to `n` (> 0) bytes into `out`: the number read, 0 when the engine closed the
    // connection, -1 with *error on a failure or at the deadline.
    long read_some(char* out, std::size_t n, Deadline deadline, std::string* error);
    // Appends everything up to the engine's close to `out`; false with *error on a failure, at
    // the deadline, or when more than `max` bytes arrive (`out` then holds at most max + 1).
    bool read_until_eof(std::string& out, std::size_t max, Deadline deadline, std::string* error);
    // Tells the engine nothing more comes (shutdown for writing); errors are ignored.
    void shutdown_write();

    const std::string& address() const { return address_; }
    int fd() const { return fd_.get(); }

private:
    EngineSocket(Fd fd, std::string address, std::chrono::steady_clock::time_point start)
        : fd_(std::move(fd)), address_(std::move(address)), start_(start) {}
    std::string timeout(Deadline deadline, const char* doing) const;

    Fd fd_;
    std::string address_;
    std::chrono::steady_clock::time_point start_;
};

// "30s", "0.3s", "1.5s": a duration for error texts, in seconds rounded to a tenth.
std::string seconds_text(std::chrono::steady_clock::duration);

}  // namespace mpp::engines
