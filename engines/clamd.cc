// engines/clamd.cc: the clamd client (see clamd.h).
#include "engines/clamd.h"

#include <cstdint>
#include <vector>

#include "engines/engine_socket.h"
#include "lib/quote.h"

namespace mpp::engines {
namespace {

using std::chrono::steady_clock;
using Status = EngineResult::Status;

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Text from clamd as a detail: control and non-ASCII bytes made '?', cut to kMaxDetail.
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, ClamdEngine::kMaxDetail)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (s.size() > ClamdEngine::kMaxDetail) out += "...";
    return out;
}

// clamd's NUL-terminated answer into `out` (without the NUL).
bool read_answer(EngineSocket& sock, Deadline deadline, std::string& out, std::string* error) {
    char buf[512];
    for (;;) {
        long n = sock.read_some(buf, sizeof buf, deadline, error);
        if (n < 0) return false;
        if (n == 0) {
            *error = out.empty() ? "clamd closed the connection without an answer"
                                 : "answer without its NUL terminator: " +
                                       quoted(out, ClamdEngine::kMaxDetail);
            return false;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (auto nul = out.find('\0'); nul != std::string::npos) {
            out.resize(nul);
            return true;
        }
        if (out.size() > ClamdEngine::kMaxAnswer) {
            *error = "answer from " + sock.address() + " longer than " +
                     std::to_string(ClamdEngine::kMaxAnswer) + " bytes";
            return false;
        }
    }
}

void put_length(char* p, std::uint32_t n) {
    p[0] = static_cast<char>((n >> 24) & 0xff);
    p[1] = static_cast<char>((n >> 16) & 0xff);
    p[2] = static_cast<char>((n >> 8) & 0xff);
    p[3] = static_cast<char>(n & 0xff);
}

}  // namespace

ClamdAnswer parse_clamd_answer(std::string_view answer) {
    const auto a = trim(answer);
    if (a.empty()) return {Status::error, "empty answer"};
    if (ends_with(a, " ERROR")) return {Status::error, shown(a)};
    if (a.substr(0, 8) == "stream: ") {
        const auto rest = a.substr(8);
        if (rest == "OK") return {Status::clean, ""};
        if (ends_with(rest, " FOUND")) {
            const auto name = trim(rest.substr(0, rest.size() - 6));
            if (!name.empty()) {
                bool limits = name.substr(0, 17) == "Heuristics.Limits";
                return {limits ? Status::limits : Status::virus, shown(name)};
            }
        }
    }
    return {Status::error, "unexpected answer: " + quoted(a, ClamdEngine::kMaxDetail)};
}

EngineResult ClamdEngine::scan(const ScanMessage& msg, Deadline deadline) {
    const auto start = steady_clock::now();
    EngineResult r;
    r.engine = cfg_.name;
    auto done = [&](Status status, std::string detail) {
        r.status = status;
        r.detail = std::move(detail);
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() -
                                                                          start);
        return r;
    };
    auto reader = msg.open ? msg.open() : nullptr;
    if (!reader) return done(Status::error, "no message to scan");
    std::string why;
    auto sock = EngineSocket::connect(cfg_.address, deadline, &why);
    if (!sock) return done(Status::error, why);

    // A write that fails (clamd closes past its StreamMaxLength) still lets clamd's answer be
    // read; only without one is the write error the detail.
    bool wrote = sock->write_all(std::string_view("zINSTREAM\0", 10), deadline, &why);
    std::vector<char> buf(4 + kChunk);
    std::uint64_t total = 0;
    while (wrote) {
        std::size_t n = reader->read(buf.data() + 4, kChunk);
        if (n == 0) break;
        total += n;
        if (cfg_.max_size && total > cfg_.max_size)
            return done(Status::error,
                        "message larger than max-size (" + std::to_string(cfg_.max_size) +
                            " bytes)");
        put_length(buf.data(), static_cast<std::uint32_t>(n));
        wrote = sock->write_all(std::string_view(buf.data(), 4 + n), deadline, &why);
    }
    if (wrote) {
        if (reader->failed()) return done(Status::error, "reading the message: " + reader->error());
        put_length(buf.data(), 0);
        wrote = sock->write_all(std::string_view(buf.data(), 4), deadline, &why);
    }
    std::string answer, read_why;
    if (!read_answer(*sock, deadline, answer, &read_why))
        return done(Status::error, wrote ? read_why : why);
    auto a = parse_clamd_answer(answer);
    return done(a.status, std::move(a.detail));
}

bool ClamdEngine::ping(Deadline deadline, std::string* error) const {
    auto sock = EngineSocket::connect(cfg_.address, deadline, error);
    if (!sock || !sock->write_all(std::string_view("zPING\0", 6), deadline, error)) return false;
    std::string answer;
    if (!read_answer(*sock, deadline, answer, error)) return false;
    if (trim(answer) != "PONG") {
        *error = "no PONG from " + sock->address() + ": " + quoted(answer, kMaxDetail);
        return false;
    }
    return true;
}

}  // namespace mpp::engines
