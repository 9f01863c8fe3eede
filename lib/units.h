// lib/units.h: durations and sizes as written in mppd.conf.xml ("5m", "2d", "100M").
//
// Durations: a non-negative integer followed by one unit: s, m, h, d (no unit: error; no space
// between number and unit; "0s" is allowed). Sizes: a non-negative integer with an optional unit
// K, M, G (powers of 1024; no unit: bytes; lower case accepted). Values that overflow 64 bits or
// exceed the caller's bound are errors. Errors are returned as text suitable for a diagnostic
// ("bad duration \"10 s\": expected a number followed by s, m, h or d").
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

// The shortest exact spelling: 300s -> "5m", 86400s -> "1d", 0 -> "0s"; 1048576 -> "1M".
std::string format_duration(std::chrono::seconds);
std::string format_size(std::uint64_t bytes);

}  // namespace mpp
