// engines/spamd.cc: the spamd client (see spamd.h).
#include "engines/spamd.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

#include "engines/engine_socket.h"
#include "lib/quote.h"

namespace mpp::engines {
namespace {

using std::chrono::steady_clock;
using Status = EngineResult::Status;

constexpr std::size_t kReadChunk = 64 * 1024;

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The first line of `s` without its line end.
std::string_view first_line(std::string_view s) { return s.substr(0, s.find_first_of("\r\n")); }

bool parse_size(std::string_view s, std::size_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool parse_number(std::string_view s, double& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty() && std::isfinite(out);
}

// The header block of an answer (after the status line, up to the blank line) and its body;
// false when the blank line has not arrived.
bool split_answer(std::string_view answer, std::string_view& head, std::string_view& body) {
    auto end = answer.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    head = answer.substr(0, end + 2);
    body = answer.substr(end + 4);
    return true;
}

// Calls f(name, value) for each "Name: value" line of `head` after the status line.
template <typename F>
void for_each_field(std::string_view head, F f) {
    auto pos = head.find('\n');
    while (pos != std::string_view::npos && pos + 1 < head.size()) {
        auto next = head.find('\n', pos + 1);
        auto line = head.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            f(trim(line), std::string_view(), false);
        else
            f(trim(line.substr(0, colon)), trim(line.substr(colon + 1)), true);
        pos = next;
    }
}

// "True ; 1002.5 / 5.0"
bool parse_spam_field(std::string_view v, SpamdAnswer& a) {
    auto semi = v.find(';');
    auto slash = v.find('/');
    if (semi == std::string_view::npos || slash == std::string_view::npos || slash < semi)
        return false;
    auto flag = trim(v.substr(0, semi));
    if (iequals(flag, "true") || iequals(flag, "yes"))
        a.spam = true;
    else if (iequals(flag, "false") || iequals(flag, "no"))
        a.spam = false;
    else
        return false;
    return parse_number(trim(v.substr(semi + 1, slash - semi - 1)), a.score) &&
           parse_number(trim(v.substr(slash + 1)), a.required);
}

// Rule names as shown in a detail: characters of rule names only, cut at a comma.
std::string symbols_text(std::string_view body) {
    std::string s;
    for (char c : trim(body).substr(0, SpamdEngine::kMaxDetail + 1)) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ',' ||
                  c == '-' || c == '.' || c == ':';
        s += ok ? c : '?';
    }
    if (s.size() <= SpamdEngine::kMaxDetail) return s;
    auto cut = s.rfind(',', SpamdEngine::kMaxDetail - 4);
    if (cut == std::string::npos) cut = SpamdEngine::kMaxDetail - 4;
    s.resize(cut);
    return s + ",...";
}

// The whole message into `out`, at most `limit` bytes.
bool read_message(const ScanMessage& msg, std::uint64_t limit, std::string& out,
                  std::string* error) {
    auto reader = msg.open ? msg.open() : nullptr;
    if (!reader) {
        *error = "no message to scan";
        return false;
    }
    out.reserve(static_cast<std::size_t>(std::min(msg.size, limit)) + 1024);
    for (;;) {
        std::size_t old = out.size();
        out.resize(old + kReadChunk);
        std::size_t n = reader->read(out.data() + old, kReadChunk);
        out.resize(old + n);
        if (n == 0) break;
        if (out.size() > limit) {
            *error = "message larger than max-size (" + std::to_string(limit) + " bytes)";
            return false;
        }
    }
    if (reader->failed()) {
        *error = "reading the message: " + reader->error();
        return false;
    }
    return true;
}

// A User: value spamd takes: printable ASCII without blanks.
bool usable_user(std::string_view user) {
    return std::all_of(user.begin(), user.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
    });
}

}  // namespace

bool spamd_answer_complete(std::string_view answer) {
    std::string_view head, body;
    if (!split_answer(answer, head, body)) return false;
    bool complete = false;
    for_each_field(head, [&](std::string_view name, std::string_view value, bool) {
        std::size_t len = 0;
        if (iequals(name, "Content-length") && parse_size(value, len))
            complete = body.size() >= len;
    });
    return complete;
}

std::optional<SpamdAnswer> parse_spamd_answer(std::string_view answer, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<SpamdAnswer> {
        *error = std::move(why);
        return std::nullopt;
    };
    if (answer.empty()) return fail("spamd closed the connection without an answer");
    const auto status = first_line(answer);
    // "SPAMD/1.1 0 EX_OK"
    if (status.substr(0, 8) != "SPAMD/1." || status.size() < 10)
        return fail("not a spamd answer: " + quoted(status));
    auto sp = status.find(' ');
    if (sp == std::string_view::npos) return fail("not a spamd answer: " + quoted(status));
    auto code = status.substr(sp + 1);
    code = code.substr(0, code.find(' '));
    if (code != "0") return fail("spamd answered " + quoted(status));

    std::string_view head, body;
    if (!split_answer(answer, head, body))
        return fail("answer ended inside its headers: " + quoted(answer, 200));
    SpamdAnswer a;
    std::optional<std::size_t> length;
    bool spam_seen = false;
    std::string bad;
    for_each_field(head, [&](std::string_view name, std::string_view value, bool colon) {
        if (!bad.empty()) return;
        if (!colon) {
            if (!name.empty()) bad = "bad header line " + quoted(name);
        } else if (iequals(name, "Content-length")) {
            std::size_t n = 0;
            if (!parse_size(value, n))
                bad = "bad Content-length " + quoted(value);
            else
                length = n;
        } else if (iequals(name, "Spam")) {
            if (!parse_spam_field(value, a))
                bad = "bad Spam header " + quoted(value) + " (expected True|False ; S / R)";
            spam_seen = true;
        }
    });
    if (!bad.empty()) return fail(bad);
    if (!spam_seen) return fail("answer without a Spam header");
    if (!length) return fail("answer without Content-length");
    if (body.size() < *length)
        return fail("short answer: Content-length " + std::to_string(*length) + ", got " +
                    std::to_string(body.size()) + " bytes");
    if (body.size() > *length)
        return fail("answer longer than its Content-length " + std::to_string(*length));
    a.symbols = symbols_text(body);
    return a;
}

EngineResult SpamdEngine::scan(const ScanMessage& msg, Deadline deadline) {
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
    std::string why;
    std::string body;
    if (!read_message(msg, cfg_.max_size ? cfg_.max_size : kMaxMessage, body, &why))
        return done(Status::error, why);
    if (!usable_user(cfg_.user))
        return done(Status::error, "user name " + quoted(cfg_.user) +
                                       ": spamd takes printable ASCII without blanks");
    std::string head = "SYMBOLS SPAMC/1.5\r\nContent-length: " + std::to_string(body.size()) +
                       "\r\n";
    if (!cfg_.user.empty()) head += "User: " + cfg_.user + "\r\n";
    head += "\r\n";

    auto sock = EngineSocket::connect(cfg_.address, deadline, &why);
    if (!sock) return done(Status::error, why);
    if (!sock->write_all(head, deadline, &why) || !sock->write_all(body, deadline, &why)) {
        // spamd may have refused the request and said why before it closed.
        std::string answer, ignored;
        sock->read_until_eof(answer, kMaxAnswer, deadline, &ignored);
        if (!answer.empty() && !parse_spamd_answer(answer, &ignored) &&
            ignored.rfind("spamd answered", 0) == 0)
            return done(Status::error, ignored);
        return done(Status::error, why);
    }
    sock->shutdown_write();

    std::string answer;
    std::vector<char> buf(16 * 1024);
    while (!spamd_answer_complete(answer)) {
        long n = sock->read_some(buf.data(), buf.size(), deadline, &why);
        if (n < 0) return done(Status::error, why);
        if (n == 0) break;
        answer.append(buf.data(), static_cast<std::size_t>(n));
        if (answer.size() > kMaxAnswer)
            return done(Status::error, "answer from " + sock->address() + " longer than " +
                                           std::to_string(kMaxAnswer) + " bytes");
    }
    auto a = parse_spamd_answer(answer, &why);
    if (!a) return done(Status::error, why);
    r.score = a->score;
    r.required = a->required;
    return done(a->spam ? Status::spam : Status::clean, std::move(a->symbols));
}

bool SpamdEngine::ping(Deadline deadline, std::string* error) const {
    auto sock = EngineSocket::connect(cfg_.address, deadline, error);
    if (!sock || !sock->write_all("PING SPAMC/1.5\r\n\r\n", deadline, error)) return false;
    sock->shutdown_write();
    std::string answer;
    if (!sock->read_until_eof(answer, 4096, deadline, error)) return false;
    auto status = first_line(answer);
    // "SPAMD/1.5 0 PONG"
    auto sp = status.find(' ');
    if (status.substr(0, 8) != "SPAMD/1." || sp == std::string_view::npos ||
        status.substr(sp) != " 0 PONG") {
        *error = "no PONG from " + sock->address() + ": " + quoted(status);
        return false;
    }
    return true;
}

}  // namespace mpp::engines
