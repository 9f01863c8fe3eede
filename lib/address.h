// lib/address.h: e-mail addresses, domains and the wildcard patterns that match them.
//
// Matching is case-insensitive (ASCII) for domains and, as Postfix does by default, for local
// parts. Patterns as written in lists and <match> rules:
//   "user@example.com"  one address          "@example.com" / "example.com"  a domain
//   "*.example.com"     any subdomain (not example.com itself)
//   "*@example.com"     any address of the domain       "*"  anything (including the null sender)
//   "user@*"            that local part at any domain   "u*r@ex*.com"  '*' matches any run, '?' one
// "*.example.com" matches a.example.com and a.b.example.com. A domain may also be an address
// literal ("[192.0.2.1]"). A pattern's trailing dot is ignored, as is an address's.
// An address may come with angle brackets ("<a@b>"); "<>" is the null sender (empty address).
// Only "*" matches the null sender.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mpp {

struct Address {
    std::string local;   // as given (case kept)
    std::string domain;  // lower case, no trailing dot
    bool null() const { return local.empty() && domain.empty(); }
    std::string str() const;  // "local@domain", or "" for the null sender

    // Strips <>, splits at the last '@'. nullopt for text that is not an address (no '@' and not
    // empty, empty local part or domain, spaces or control characters, stray '<' or '>', over
    // 320 bytes). "" and "<>" give the null sender. The domain's syntax is not checked further.
    static std::optional<Address> parse(std::string_view text);
};

std::string to_lower_ascii(std::string_view);

// A syntactically valid domain name (labels of letters, digits, '-', '_'; 1..63 bytes each;
// at most 253 in all; a trailing dot allowed). Does not accept wildcards.
bool valid_domain(std::string_view);

// Glob with '*' and '?', ASCII case-insensitive, over the whole text.
bool glob_match(std::string_view pattern, std::string_view text);

// One list entry of the forms documented above; `error` explains a rejected pattern as
// `bad address pattern "TEXT": why`.
class AddressPattern {
public:
    static std::optional<AddressPattern> parse(std::string_view text, std::string* error = nullptr);
    bool matches(const Address&) const;
    // A domain-only pattern (or "*", or "*@DOMAIN") against a domain; other patterns: false.
    bool matches_domain(std::string_view domain) const;
    const std::string& text() const { return text_; }

private:
    bool domain_matches(std::string_view domain) const;

    std::string text_;
    std::string local_;   // glob, "" when the pattern is domain-only
    std::string domain_;  // glob (lower case)
    bool domain_only_ = false;
    bool subdomains_ = false;  // "*.example.com"
    bool any_ = false;         // "*": everything, the null sender too
};

}  // namespace mpp
