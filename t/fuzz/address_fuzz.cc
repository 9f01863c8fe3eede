// t/fuzz/address_fuzz.cc: libFuzzer target for the parsers of untrusted or admin-written text in
// lib/address.h and lib/cidr.h.
//
// Input: PATTERN '\n' ADDRESS (without a newline, the whole input is used as both). Every parser
// must return a value or nullopt, never crash, and these invariants must hold (a violation
// aborts, so the fuzzer reports it):
//   - Address::parse(a.str()) gives back a;
//   - "*" matches every address, the null sender included; a pattern matches what it was parsed
//     from when that is a plain address;
//   - Cidr::parse(c.str()) gives back c, and c contains its own network address;
//   - IpAddr::parse(ip.str()) gives back ip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/address.h"
#include "lib/cidr.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void address_invariants(std::string_view text) {
    auto a = mpp::Address::parse(text);
    if (!a) return;
    auto again = mpp::Address::parse(a->str());
    check(again.has_value() && again->local == a->local && again->domain == a->domain);
    auto any = mpp::AddressPattern::parse("*");
    check(any.has_value() && any->matches(*a));
    if (!a->null() && a->str().find_first_of("*?") == std::string::npos) {
        if (auto self = mpp::AddressPattern::parse(a->str())) check(self->matches(*a));
    }
}

void cidr_invariants(std::string_view text) {
    std::string error;
    auto c = mpp::Cidr::parse(text, &error);
    check(c.has_value() == error.empty());
    if (c) {
        auto again = mpp::Cidr::parse(c->str());
        check(again.has_value() && *again == *c);
        check(c->contains(c->net));
        mpp::CidrSet set;
        set.add(*c);
        check(set.contains(c->net));
    }
    if (auto ip = mpp::IpAddr::parse(text)) {
        auto again = mpp::IpAddr::parse(ip->str());
        check(again.has_value() && *again == *ip);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nl = input.find('\n');
    const auto pattern_text = nl == std::string_view::npos ? input : input.substr(0, nl);
    const auto address_text = nl == std::string_view::npos ? input : input.substr(nl + 1);

    address_invariants(address_text);
    cidr_invariants(input);
    cidr_invariants(pattern_text);

    std::string error;
    auto pattern = mpp::AddressPattern::parse(pattern_text, &error);
    check(pattern.has_value() == error.empty());
    auto address = mpp::Address::parse(address_text);
    if (pattern && address) {
        (void)pattern->matches(*address);
        (void)pattern->matches_domain(address->domain);
    }
    (void)mpp::glob_match(pattern_text, address_text);
    (void)mpp::valid_domain(address_text);
    return 0;
}
