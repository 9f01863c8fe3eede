// t/lib/units_test.cc: durations, sizes and integers as written in the config (lib/units.h).
#include "lib/units.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace mpp {
namespace {

using std::chrono::seconds;

struct DurationOk {
    const char* text;
    std::int64_t secs;
};

TEST(ParseDuration, Accepts) {
    const DurationOk cases[] = {
        {"0s", 0},
        {"1s", 1},
        {"30s", 30},
        {"5m", 300},
        {"1h", 3600},
        {"2d", 172800},
        {"0d", 0},
        {"007s", 7},
        {"90m", 5400},
        {"35d", 3024000},
        // The largest value that fits: 2^63-1 seconds.
        {"9223372036854775807s", std::numeric_limits<std::int64_t>::max()},
        {"106751991167300d", 106751991167300LL * 86400},
    };
    for (const auto& c : cases) {
        auto p = parse_duration(c.text);
        EXPECT_TRUE(p.ok()) << c.text << ": " << p.error;
        EXPECT_EQ(p.value.count(), c.secs) << c.text;
    }
}

TEST(ParseDuration, RejectsWithClearMessage) {
    const std::string exp = ": expected a number followed by s, m, h or d (as in 30s, 5m, 2d)";
    const char* cases[] = {"",   "s",  "10 s", " 5s",  "5s ", "+5s",   "1e99", "1e9s", "5ms",
                           "5S", "5M", "5w",   "1.5h", "5 m", "0x10s", "5s\n", "m5"};
    for (const char* c : cases) {
        auto p = parse_duration(c);
        EXPECT_FALSE(p.ok()) << c;
        EXPECT_EQ(p.value.count(), 0) << c;
    }
    EXPECT_EQ(parse_duration("10 s").error, "bad duration \"10 s\"" + exp);
    EXPECT_EQ(parse_duration("").error, "bad duration \"\"" + exp);
    EXPECT_EQ(parse_duration("1e99").error, "bad duration \"1e99\"" + exp);
    EXPECT_EQ(parse_duration("5").error,
              "bad duration \"5\": missing unit: write s, m, h or d after the number");
    EXPECT_EQ(parse_duration("-1s").error, "bad duration \"-1s\": must not be negative");
    EXPECT_EQ(parse_duration("9223372036854775808s").error,
              "bad duration \"9223372036854775808s\": too large");
    EXPECT_EQ(parse_duration("106751991167301d").error,
              "bad duration \"106751991167301d\": too large");
    EXPECT_EQ(parse_duration("99999999999999999999999s").error,
              "bad duration \"99999999999999999999999s\": too large");
    // Control characters in the quoted text are escaped, long text is cut.
    EXPECT_EQ(parse_duration("5s\n").error, "bad duration \"5s\\x0A\"" + exp);
    std::string long_text(150, '9');
    long_text += 'x';
    EXPECT_EQ(parse_duration(long_text).error,
              "bad duration \"" + std::string(120, '9') + "...\"" + exp);
}

struct SizeOk {
    const char* text;
    std::uint64_t bytes;
};

TEST(ParseSize, Accepts) {
    const SizeOk cases[] = {
        {"0", 0},
        {"1", 1},
        {"1000", 1000},
        {"1K", 1024},
        {"1k", 1024},
        {"512K", 512 * 1024},
        {"100M", 100ULL << 20},
        {"100m", 100ULL << 20},
        {"2G", 2ULL << 30},
        {"2g", 2ULL << 30},
        {"0K", 0},
        {"9223372036854775807", 9223372036854775807ULL},
        {"8589934591G", 8589934591ULL << 30},
    };
    for (const auto& c : cases) {
        auto p = parse_size(c.text);
        EXPECT_TRUE(p.ok()) << c.text << ": " << p.error;
        EXPECT_EQ(p.value, c.bytes) << c.text;
    }
}

TEST(ParseSize, Rejects) {
    const char* cases[] = {"",   "K",    "1 K", " 1K",  "1K ", "+1K", "-1K", "1KB",
                           "1T", "1.5M", "1e6", "0x10", "1Ki", "M1",  "1\tK"};
    for (const char* c : cases) {
        auto p = parse_size(c);
        EXPECT_FALSE(p.ok()) << c;
        EXPECT_EQ(p.value, 0u) << c;
    }
    EXPECT_EQ(parse_size("1 K").error,
              "bad size \"1 K\": expected a number of bytes, optionally followed by K, M or G "
              "(as in 512K, 100M)");
    EXPECT_EQ(parse_size("-1").error, "bad size \"-1\": must not be negative");
    EXPECT_EQ(parse_size("8589934592G").error, "bad size \"8589934592G\": too large");
    EXPECT_EQ(parse_size("9223372036854775808").error,
              "bad size \"9223372036854775808\": too large");
    EXPECT_EQ(parse_size("18446744073709551616").error,
              "bad size \"18446744073709551616\": too large");
}

TEST(ParseInteger, AcceptsAndRejects) {
    struct C {
        const char* text;
        bool ok;
        std::int64_t value;
    };
    const C cases[] = {
        {"0", true, 0},
        {"42", true, 42},
        {"-42", true, -42},
        {"-0", true, 0},
        {"0042", true, 42},
        {"9223372036854775807", true, std::numeric_limits<std::int64_t>::max()},
        {"-9223372036854775808", true, std::numeric_limits<std::int64_t>::min()},
        {"9223372036854775808", false, 0},
        {"-9223372036854775809", false, 0},
        {"", false, 0},
        {"-", false, 0},
        {"+5", false, 0},
        {" 5", false, 0},
        {"5 ", false, 0},
        {"5s", false, 0},
        {"1e3", false, 0},
        {"--5", false, 0},
        {"0x1f", false, 0},
    };
    for (const auto& c : cases) {
        auto p = parse_integer(c.text);
        EXPECT_EQ(p.ok(), c.ok) << c.text << ": " << p.error;
        EXPECT_EQ(p.value, c.value) << c.text;
    }
    EXPECT_EQ(parse_integer("+5").error,
              "bad integer \"+5\": expected a decimal integer (digits, optionally after '-')");
    EXPECT_EQ(parse_integer("9223372036854775808").error,
              "bad integer \"9223372036854775808\": out of range");
}

TEST(FormatDuration, ShortestExactSpelling) {
    struct C {
        std::int64_t secs;
        const char* text;
    };
    const C cases[] = {
        {0, "0s"},      {1, "1s"},      {59, "59s"},       {60, "1m"},       {61, "61s"},
        {300, "5m"},    {3600, "1h"},   {5400, "90m"},     {7200, "2h"},     {86400, "1d"},
        {90000, "25h"}, {172800, "2d"}, {86401, "86401s"}, {3024000, "35d"}, {-5, "-5s"},
    };
    for (const auto& c : cases) EXPECT_EQ(format_duration(seconds(c.secs)), c.text) << c.secs;
}

TEST(FormatSize, ShortestExactSpelling) {
    struct C {
        std::uint64_t bytes;
        const char* text;
    };
    const C cases[] = {
        {0, "0"},
        {1, "1"},
        {1000, "1000"},
        {1023, "1023"},
        {1024, "1K"},
        {1536, "1536"},
        {1048576, "1M"},
        {1049600, "1025K"},
        {100ULL << 20, "100M"},
        {1ULL << 30, "1G"},
        {(1ULL << 30) + 1024, "1048577K"},
        {5ULL << 40, "5120G"},
    };
    for (const auto& c : cases) EXPECT_EQ(format_size(c.bytes), c.text) << c.bytes;
}

TEST(Units, FormatThenParseRoundTrips) {
    const std::int64_t durations[] = {
        0,    1,     59,    60,        3599,
        3600, 86400, 86399, 123456789, std::numeric_limits<std::int64_t>::max()};
    for (std::int64_t s : durations) {
        auto p = parse_duration(format_duration(seconds(s)));
        ASSERT_TRUE(p.ok()) << s << ": " << p.error;
        EXPECT_EQ(p.value.count(), s);
    }
    const std::uint64_t sizes[] = {0,
                                   1,
                                   1023,
                                   1024,
                                   4096,
                                   1ULL << 20,
                                   3ULL << 30,
                                   9223372036854775807ULL,
                                   8589934591ULL << 30};
    for (std::uint64_t b : sizes) {
        auto p = parse_size(format_size(b));
        ASSERT_TRUE(p.ok()) << b << ": " << p.error;
        EXPECT_EQ(p.value, b);
    }
}

}  // namespace
}  // namespace mpp

TEST(FormatUtc, Iso8601InUtc) {
    using namespace std::chrono;
    EXPECT_EQ(mpp::format_utc(system_clock::time_point(seconds(0))), "1970-01-01T00:00:00Z");
    EXPECT_EQ(mpp::format_utc(system_clock::time_point(seconds(1795442464))),
              "2026-11-23T14:01:04Z");
}
