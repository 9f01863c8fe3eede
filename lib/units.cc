// lib/units.cc: parsing and printing of config durations, sizes and plain integers (see units.h).
//
// State: none; every function is pure and thread-safe.
// Limits: values must fit in 63 bits (a duration is a std::chrono::seconds, whose count is signed;
// a size in bytes is capped at the same bound so that it can be added and compared freely).
// Failures: a Parsed with value 0 and an error text that starts with `bad duration "TEXT": `,
// `bad size "TEXT": ` or `bad integer "TEXT": ` (TEXT with control characters escaped as \xNN
// and cut after 64 bytes), so a caller only has to prefix "FILE:LINE: ".
#include "lib/units.h"

#include <charconv>
#include <ctime>
#include <cstdio>
#include <limits>
#include <system_error>

#include "lib/quote.h"

namespace mpp {
namespace {

constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

template <typename T>
Parsed<T> fail(std::string_view what, std::string_view text, std::string_view why) {
    Parsed<T> p;
    p.error = std::string("bad ") + std::string(what) + " " + quoted(text) + ": " + std::string(why);
    return p;
}

// Leading decimal digits of `text` (at least one) as an unsigned number. `rest` receives what
// follows them. Returns false when there is no digit; sets *overflow past kMax.
bool leading_number(std::string_view text, std::uint64_t& value, std::string_view& rest,
                    bool& overflow) {
    std::size_t n = 0;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
    if (n == 0) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, value);
    (void)ptr;
    overflow = ec == std::errc::result_out_of_range || (ec == std::errc{} && value > kMax);
    rest = text.substr(n);
    return true;
}

}  // namespace

Parsed<std::chrono::seconds> parse_duration(std::string_view text) {
    using R = std::chrono::seconds;
    constexpr std::string_view kExpected =
        "expected a number followed by s, m, h or d (as in 30s, 5m, 2d)";
    if (!text.empty() && text[0] == '-') return fail<R>("duration", text, "must not be negative");
    std::uint64_t n = 0;
    std::string_view rest;
    bool overflow = false;
    if (!leading_number(text, n, rest, overflow)) return fail<R>("duration", text, kExpected);
    if (rest.empty())
        return fail<R>("duration", text, "missing unit: write s, m, h or d after the number");
    if (rest.size() != 1) return fail<R>("duration", text, kExpected);
    std::uint64_t mult = 0;
    switch (rest[0]) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: return fail<R>("duration", text, kExpected);
    }
    if (overflow || n > kMax / mult) return fail<R>("duration", text, "too large");
    Parsed<R> p;
    p.value = R(static_cast<std::int64_t>(n * mult));
    return p;
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    using R = std::uint64_t;
    constexpr std::string_view kExpected =
        "expected a number of bytes, optionally followed by K, M or G (as in 512K, 100M)";
    if (!text.empty() && text[0] == '-') return fail<R>("size", text, "must not be negative");
    std::uint64_t n = 0;
    std::string_view rest;
    bool overflow = false;
    if (!leading_number(text, n, rest, overflow)) return fail<R>("size", text, kExpected);
    std::uint64_t mult = 1;
    if (rest.size() > 1) return fail<R>("size", text, kExpected);
    if (rest.size() == 1) {
        switch (rest[0]) {
            case 'K':
            case 'k': mult = 1ULL << 10; break;
            case 'M':
            case 'm': mult = 1ULL << 20; break;
            case 'G':
            case 'g': mult = 1ULL << 30; break;
            default: return fail<R>("size", text, kExpected);
        }
    }
    if (overflow || n > kMax / mult) return fail<R>("size", text, "too large");
    Parsed<R> p;
    p.value = n * mult;
    return p;
}

Parsed<std::int64_t> parse_integer(std::string_view text) {
    using R = std::int64_t;
    constexpr std::string_view kExpected =
        "expected a decimal integer (digits, optionally after '-')";
    // from_chars accepts a leading '-' and nothing else before the digits; "-" alone is invalid.
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) return fail<R>("integer", text, "out of range");
    if (ec != std::errc{} || ptr != text.data() + text.size())
        return fail<R>("integer", text, kExpected);
    Parsed<R> p;
    p.value = v;
    return p;
}

std::string format_duration(std::chrono::seconds d) {
    std::int64_t s = d.count();
    if (s <= 0) return std::to_string(s) + "s";
    if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
    if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
    if (s % 60 == 0) return std::to_string(s / 60) + "m";
    return std::to_string(s) + "s";
}

std::string format_size(std::uint64_t bytes) {
    if (bytes == 0) return "0";
    if (bytes % (1ULL << 30) == 0) return std::to_string(bytes >> 30) + "G";
    if (bytes % (1ULL << 20) == 0) return std::to_string(bytes >> 20) + "M";
    if (bytes % (1ULL << 10) == 0) return std::to_string(bytes >> 10) + "K";
    return std::to_string(bytes);
}

std::string format_utc(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace mpp
