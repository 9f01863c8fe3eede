// lib/units.h: durations and sizes as written in mppd.conf.xml ("5m", "2d", "100M").
//
// Durations: a non-negative integer followed by one unit: s, m, h, d (lower case only; no unit:
// error; no space between number and unit; "0s" is allowed). Sizes: a non-negative integer with
// an optional unit K, M, G (powers of 1024; no unit: bytes; lower case accepted). No sign, no
// spaces anywhere, no exponent. Values above 2^63-1 (seconds or bytes) are errors; tighter bounds
// are the caller's. Errors are returned as text suitable for a diagnostic after "FILE:LINE: "
// ("bad duration \"10 s\": expected a number followed by s, m, h or d ...").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace mpp {

template <typename T>
struct Parsed {
    T value{};
    std::string error;  // empty on success
    bool ok() const { return error.empty(); }
};

Parsed<std::chrono::seconds> parse_duration(std::string_view text);
Parsed<std::uint64_t> parse_size(std::string_view text);
// Non-negative or signed decimal integer without unit, no leading '+', no spaces.
Parsed<std::int64_t> parse_integer(std::string_view text);

// The shortest exact spelling: 300s -> "5m", 86400s -> "1d", 0 -> "0s"; 1048576 -> "1M",
// 1000 -> "1000", 0 -> "0". parse_*(format_*(x)) == x for every value parse_* accepts.
std::string format_duration(std::chrono::seconds);
// A wall-clock time as ISO 8601 UTC: "2026-11-23T14:11:04Z" (control output, logs).
std::string format_utc(std::chrono::system_clock::time_point);
std::string format_size(std::uint64_t bytes);

}  // namespace mpp
