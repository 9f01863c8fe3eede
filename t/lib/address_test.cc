// t/lib/address_test.cc: addresses, domains, globs and address patterns (lib/address.h).
#include "lib/address.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mpp {
namespace {

TEST(Address, Parses) {
    struct C {
        const char* in;
        const char* local;
        const char* domain;
        const char* str;
    };
    const C cases[] = {
        {"user@example.com", "user", "example.com", "user@example.com"},
        {"<user@example.com>", "user", "example.com", "user@example.com"},
        {"User.Name@Example.COM", "User.Name", "example.com", "User.Name@example.com"},
        {"user@example.com.", "user", "example.com", "user@example.com"},
        {"\"a@b\"@example.com", "\"a@b\"", "example.com", "\"a@b\"@example.com"},
        {"a@b@c", "a@b", "c", "a@b@c"},
        {"user+tag@example.com", "user+tag", "example.com", "user+tag@example.com"},
        {"postmaster@[192.0.2.1]", "postmaster", "[192.0.2.1]", "postmaster@[192.0.2.1]"},
        {"j\xc3\xb6rg@example.com", "j\xc3\xb6rg", "example.com", "j\xc3\xb6rg@example.com"},
        {"a@b", "a", "b", "a@b"},
    };
    for (const auto& c : cases) {
        auto a = Address::parse(c.in);
        ASSERT_TRUE(a.has_value()) << c.in;
        EXPECT_EQ(a->local, c.local) << c.in;
        EXPECT_EQ(a->domain, c.domain) << c.in;
        EXPECT_EQ(a->str(), c.str) << c.in;
        EXPECT_FALSE(a->null()) << c.in;
    }
}

TEST(Address, NullSender) {
    for (const char* in : {"<>", ""}) {
        auto a = Address::parse(in);
        ASSERT_TRUE(a.has_value()) << in;
        EXPECT_TRUE(a->null());
        EXPECT_EQ(a->str(), "");
    }
}

TEST(Address, Rejects) {
    const char* cases[] = {
        "user",
        "<user>",
        "@example.com",
        "user@",
        "<user@example.com",
        "user@example.com>",
        "<",
        ">",
        "<<>>",
        "<<a@b>>",
        "us er@example.com",
        "user@exa mple.com",
        " user@example.com",
        "user@example.com ",
        "user\t@example.com",
        "user@example.com\n",
        "user@example.com\r",
        "a\x7f@b",
        "user@.",
        "user@example.com..",
        "a<b@c",
        "@",
    };
    for (const char* c : cases) EXPECT_FALSE(Address::parse(c).has_value()) << c;
    EXPECT_FALSE(Address::parse(std::string_view("a\0b@c", 5)).has_value());
}

TEST(Address, LengthLimit) {
    std::string domain = "example.com";
    std::string at_limit = std::string(320 - 1 - domain.size(), 'x') + "@" + domain;
    ASSERT_EQ(at_limit.size(), 320u);
    EXPECT_TRUE(Address::parse(at_limit).has_value());
    EXPECT_TRUE(Address::parse("<" + at_limit + ">").has_value());
    EXPECT_FALSE(Address::parse("x" + at_limit).has_value());
}

TEST(ToLowerAscii, OnlyAsciiLetters) {
    EXPECT_EQ(to_lower_ascii("ABC-xyz_09@Z"), "abc-xyz_09@z");
    EXPECT_EQ(to_lower_ascii("\xc3\x84"), "\xc3\x84");  // UTF-8 bytes untouched
    EXPECT_EQ(to_lower_ascii(""), "");
}

TEST(ValidDomain, Table) {
    const std::string l63(63, 'a');
    const std::string l64(64, 'a');
    // 4 labels of 63 + 3 dots = 255; 3 of 63 + one of 61 + dots = 253.
    const std::string d253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
    const std::string d254 = d253 + "b";
    const std::pair<std::string, bool> cases[] = {
        {"example.com", true},
        {"EXAMPLE.com", true},
        {"example.com.", true},
        {"localhost", true},
        {"a", true},
        {"_dmarc.example.com", true},
        {"xn--bcher-kva.ch", true},
        {"1.2.3.4", true},
        {"a-b.c-d", true},
        {l63 + ".com", true},
        {l64 + ".com", false},
        {d253, true},
        {d253 + ".", true},
        {d254, false},
        {"", false},
        {".", false},
        {".example.com", false},
        {"example..com", false},
        {"example.com..", false},
        {"*.example.com", false},
        {"exa mple.com", false},
        {"ex?mple.com", false},
        {"[192.0.2.1]", false},
        {"b\xc3\xbc"
         "cher.ch",
         false},
        {"example.com/", false},
    };
    for (const auto& [d, ok] : cases) EXPECT_EQ(valid_domain(d), ok) << d;
}

TEST(GlobMatch, Table) {
    struct C {
        const char* pattern;
        const char* text;
        bool match;
    };
    const C cases[] = {
        {"", "", true},
        {"", "a", false},
        {"*", "", true},
        {"*", "anything", true},
        {"?", "", false},
        {"?", "a", true},
        {"?", "ab", false},
        {"abc", "abc", true},
        {"abc", "ABC", true},
        {"AbC", "aBc", true},
        {"abc", "abcd", false},
        {"abcd", "abc", false},
        {"a*", "a", true},
        {"a*", "abc", true},
        {"a*", "ba", false},
        {"*a", "ba", true},
        {"*a", "ab", false},
        {"a*c", "ac", true},
        {"a*c", "abbbc", true},
        {"a*c", "abbbcd", false},
        {"a*b*c", "axxbyyc", true},
        {"a*b*c", "axxcyyb", false},
        {"*.example.com", "mx.example.com", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", "a.b.example.com", true},
        {"u*r", "user", true},
        {"u?er", "user", true},
        {"u?er", "uer", false},
        {"**", "x", true},
        {"*?", "", false},
        {"*?", "x", true},
        {"?*?", "xy", true},
        {"?*?", "x", false},
        {"a*a*a", "aaa", true},
        {"a*a*a", "aa", false},
        {"*ab", "aab", true},
        {"*aab", "aaab", true},
        {"ex*.com", "example.com", true},
        {"ex*.com", "example.org", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(glob_match(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
}

TEST(GlobMatch, PathologicalInputIsFast) {
    // A backtracking matcher takes exponential time here; the two-pointer one takes
    // O(pattern x text) at worst.
    std::string pattern;
    for (int i = 0; i < 40; ++i) pattern += "*a";
    pattern += "b";
    const std::string text(50000, 'a');
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(glob_match(pattern, text));
    EXPECT_TRUE(glob_match(pattern.substr(0, pattern.size() - 1), text));
    EXPECT_TRUE(glob_match(pattern, text + "b"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(2));
}

AddressPattern pattern(const char* text) {
    std::string err;
    auto p = AddressPattern::parse(text, &err);
    EXPECT_TRUE(p.has_value()) << text << ": " << err;
    return p.value_or(AddressPattern{});
}

Address addr(const char* text) {
    auto a = Address::parse(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(Address{});
}

TEST(AddressPattern, Matches) {
    struct C {
        const char* pattern;
        const char* address;
        bool match;
    };
    const C cases[] = {
        {"user@example.com", "user@example.com", true},
        {"user@example.com", "USER@Example.Com", true},
        {"user@example.com", "user2@example.com", false},
        {"user@example.com", "user@sub.example.com", false},
        {"user@example.com.", "user@example.com", true},
        {"@example.com", "anyone@example.com", true},
        {"@example.com", "anyone@sub.example.com", false},
        {"example.com", "anyone@EXAMPLE.COM", true},
        {"example.com", "anyone@example.org", false},
        {"example.com", "anyone@notexample.com", false},
        {"*.example.com", "a@mx.example.com", true},
        {"*.example.com", "a@a.b.example.com", true},
        {"*.example.com", "a@example.com", false},
        {"*.example.com", "a@badexample.com", false},
        {"*@example.com", "a@example.com", true},
        {"*@example.com", "a@b.example.com", false},
        {"*@example.com", "<>", false},
        {"*", "a@example.com", true},
        {"*", "<>", true},
        {"*@*", "a@b", true},
        {"*@*", "<>", false},
        {"example.com", "<>", false},
        {"user@*", "user@anything.org", true},
        {"user@*", "USER@x", true},
        {"user@*", "user2@anything.org", false},
        {"u*r@ex*.com", "user@example.com", true},
        {"u*r@ex*.com", "ur@ex.com", true},
        {"u*r@ex*.com", "user@example.org", false},
        {"u?er@example.com", "user@example.com", true},
        {"u?er@example.com", "uer@example.com", false},
        {"postmaster@[192.0.2.1]", "postmaster@[192.0.2.1]", true},
        {"*@*.example.com", "a@b.example.com", true},
        {"*@*.example.com", "a@example.com", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(pattern(c.pattern).matches(addr(c.address)), c.match)
            << c.pattern << " vs " << c.address;
}

TEST(AddressPattern, MatchesDomain) {
    struct C {
        const char* pattern;
        const char* domain;
        bool match;
    };
    const C cases[] = {
        {"example.com", "example.com", true},       {"example.com", "Example.COM.", true},
        {"example.com", "mx.example.com", false},   {"@example.com", "example.com", true},
        {"*.example.com", "mx.example.com", true},  {"*.example.com", "example.com", false},
        {"*@example.com", "example.com", true},     {"*", "anything", true},
        {"user@example.com", "example.com", false}, {"user@*", "example.com", false},
        {"ex*.com", "example.com", true},           {"example.com", "", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(pattern(c.pattern).matches_domain(c.domain), c.match)
            << c.pattern << " vs " << c.domain;
}

TEST(AddressPattern, KeepsText) {
    EXPECT_EQ(pattern("U*@Example.com").text(), "U*@Example.com");
}

TEST(AddressPattern, RejectsWithReason) {
    const std::string not_domain =
        ": not a domain name (labels of letters, digits, '-', '_', '*' or '?', at most 63 bytes "
        "each, separated by single dots)";
    const std::pair<const char*, std::string> cases[] = {
        {"", "bad address pattern \"\": empty"},
        {"user@",
         "bad address pattern \"user@\": missing domain after '@' (write user@* for any domain)"},
        {"@", "bad address pattern \"@\": missing domain after '@' (write user@* for any domain)"},
        {"user @example.com",
         "bad address pattern \"user @example.com\": spaces, control characters and angle brackets "
         "are not allowed"},
        {"<user@example.com>",
         "bad address pattern \"<user@example.com>\": spaces, control characters and angle "
         "brackets are not allowed"},
        {"example..com", "bad address pattern \"example..com\"" + not_domain},
        {"exa/mple.com", "bad address pattern \"exa/mple.com\"" + not_domain},
        {"user@.example.com", "bad address pattern \"user@.example.com\"" + not_domain},
        {".", "bad address pattern \".\"" + not_domain},
        {"*..com", "bad address pattern \"*..com\"" + not_domain},
        {"user@example.com\n",
         "bad address pattern \"user@example.com\\x0A\": spaces, control characters and angle "
         "brackets are not allowed"},
    };
    for (const auto& [in, want] : cases) {
        std::string err;
        EXPECT_FALSE(AddressPattern::parse(in, &err).has_value()) << in;
        EXPECT_EQ(err, want);
    }
    std::string err;
    EXPECT_FALSE(AddressPattern::parse(std::string(64, 'a') + ".com", &err).has_value());
    EXPECT_FALSE(AddressPattern::parse("u@" + std::string(321, 'a')).has_value());
    EXPECT_FALSE(AddressPattern::parse("user@").has_value());  // no error pointer: no crash
}

}  // namespace
}  // namespace mpp
