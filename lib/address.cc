// lib/address.cc: envelope addresses, domain syntax, globs and address patterns (see address.h).
//
// State: values only; an AddressPattern is immutable after parse, so any thread may match.
// Limits: an address or pattern is at most 320 bytes (64 local + '@' + 255 domain). glob_match
// runs in O(pattern x text) time at worst and O(1) space: the iterative two-pointer algorithm
// backtracks only to the most recent '*', never recursively.
// Address::parse does not check domain syntax beyond "not empty, at most one trailing dot" (the
// MTA has accepted it already; valid_domain() is there for who wants more); it accepts 8-bit
// bytes (SMTPUTF8), but no spaces, control characters or stray angle brackets.
// Failures: nullopt; AddressPattern::parse sets `bad address pattern "TEXT": why`.
#include "lib/address.h"

#include <cstdio>

#include "lib/quote.h"

namespace mpp {
namespace {

constexpr std::size_t kMaxAddress = 320;

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool bad_address_char(unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '<' || c == '>';
}

bool domain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// A domain glob: labels of domain characters, '*' and '?', separated by single dots.
bool valid_domain_glob(std::string_view d) {
    if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
    char prev = 0;
    for (char c : d) {
        if (c == '.' && prev == '.') return false;
        if (c != '.' && c != '*' && c != '?' && !domain_char(c)) return false;
        prev = c;
    }
    return true;
}

// An address literal as a domain: "[192.0.2.1]", "[IPv6:2001:db8::1]".
bool domain_literal(std::string_view d) {
    if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
    for (char c : d.substr(1, d.size() - 2))
        if (!domain_char(c) && c != '.' && c != ':') return false;
    return true;
}

}  // namespace

std::string to_lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

std::string Address::str() const {
    return null() ? std::string() : local + "@" + domain;
}

std::optional<Address> Address::parse(std::string_view text) {
    if (!text.empty() && text.front() == '<') {
        if (text.size() < 2 || text.back() != '>') return std::nullopt;
        text = text.substr(1, text.size() - 2);
    }
    if (text.empty()) return Address{};  // the null sender
    if (text.size() > kMaxAddress) return std::nullopt;
    for (char c : text)
        if (bad_address_char(static_cast<unsigned char>(c))) return std::nullopt;
    auto at = text.rfind('@');
    if (at == std::string_view::npos || at == 0) return std::nullopt;
    auto domain = text.substr(at + 1);
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty() || domain.back() == '.') return std::nullopt;
    Address a;
    a.local = std::string(text.substr(0, at));
    a.domain = to_lower_ascii(domain);
    return a;
}

bool valid_domain(std::string_view d) {
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() || d.size() > 253) return false;
    std::size_t label = 0;
    for (char c : d) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
        } else if (domain_char(c)) {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

bool glob_match(std::string_view pattern, std::string_view text) {
    std::size_t p = 0, t = 0;
    std::size_t star = std::string_view::npos, resume = 0;  // last '*' seen, text position after it
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() &&
                   (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            // Let the last '*' swallow one more character and retry from there.
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::optional<AddressPattern> AddressPattern::parse(std::string_view text, std::string* error) {
    auto fail = [&](std::string_view why) -> std::optional<AddressPattern> {
        if (error) *error = "bad address pattern " + quoted(text) + ": " + std::string(why);
        return std::nullopt;
    };
    if (text.empty()) return fail("empty");
    if (text.size() > kMaxAddress) return fail("longer than 320 bytes");
    for (char c : text)
        if (bad_address_char(static_cast<unsigned char>(c)))
            return fail("spaces, control characters and angle brackets are not allowed");
    AddressPattern pat;
    pat.text_ = std::string(text);
    if (text == "*") {
        pat.any_ = true;
        return pat;
    }
    std::string_view domain = text;
    auto at = text.rfind('@');
    if (at != std::string_view::npos) {
        pat.local_ = std::string(text.substr(0, at));
        domain = text.substr(at + 1);
        if (domain.empty()) return fail("missing domain after '@' (write user@* for any domain)");
    }
    pat.domain_only_ = pat.local_.empty();
    if (domain.size() > 1 && domain.back() == '.') domain.remove_suffix(1);
    const bool wild = domain.find_first_of("*?") != std::string_view::npos;
    const bool domain_ok = wild ? valid_domain_glob(domain) : valid_domain(domain);
    if (domain != "*" && !domain_literal(domain) && !domain_ok)
        return fail(
            "not a domain name (labels of letters, digits, '-', '_', '*' or '?', at most 63 "
            "bytes each, separated by single dots)");
    pat.domain_ = to_lower_ascii(domain);
    pat.subdomains_ = pat.domain_.size() > 2 && pat.domain_.compare(0, 2, "*.") == 0 &&
                      pat.domain_.find_first_of("*?", 2) == std::string::npos;
    return pat;
}

bool AddressPattern::domain_matches(std::string_view domain) const {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty()) return false;
    if (subdomains_) {
        // "*.example.com": at least one label before ".example.com", never example.com itself.
        std::string_view suffix = std::string_view(domain_).substr(1);  // ".example.com"
        return domain.size() > suffix.size() &&
               glob_match(suffix, domain.substr(domain.size() - suffix.size()));
    }
    return glob_match(domain_, domain);
}

bool AddressPattern::matches_domain(std::string_view domain) const {
    if (any_) return true;
    if (!domain_only_ && local_ != "*") return false;
    return domain_matches(domain);
}

bool AddressPattern::matches(const Address& a) const {
    if (any_) return true;
    if (a.null()) return false;
    if (!domain_only_ && !glob_match(local_, a.local)) return false;
    return domain_matches(a.domain);
}

}  // namespace mpp
