// lib/cidr.cc: IP addresses, CIDR networks and sets of networks (see cidr.h).
//
// State: values only; a CidrSet is read-only once built (config load), so lookups from any number
// of threads are safe, adding is not.
// Parsing is strict and goes through inet_pton (which already refuses leading zeros in IPv4
// octets; they are also checked here, so the rule does not depend on the C library). No zone ids
// ("fe80::1%eth0"), no brackets, no surrounding spaces. Prefix lengths are decimal without sign or
// leading zeros ("/8", not "/08" or "/+8"): IPv4 text 0..32, IPv6 text 0..128 (an IPv4-mapped
// address written in IPv6 text takes an IPv6 prefix: "::ffff:192.0.2.0/120" = "192.0.2.0/24").
// Failures: nullopt, and for Cidr::parse an error text `bad network "TEXT": why`.
#include "lib/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "lib/quote.h"

namespace mpp {
namespace {

constexpr std::size_t kMaxAddrText = 64;  // longer than any valid address text (45 + slack)

bool strict_ipv4_text(std::string_view s) {
    // Four groups of 1..3 digits, no leading zero unless the group is "0".
    int groups = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        std::size_t len = i - start;
        if (len == 0 || len > 3 || (len > 1 && s[start] == '0')) return false;
        ++groups;
        if (i == s.size()) return groups == 4;
        if (s[i] != '.' || groups == 4) return false;
        ++i;
    }
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
    if (text.empty() || text.size() >= kMaxAddrText) return std::nullopt;
    char buf[kMaxAddrText];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (std::strlen(buf) != text.size()) return std::nullopt;  // embedded NUL
    IpAddr a;
    if (text.find(':') == std::string_view::npos) {
        if (!strict_ipv4_text(text)) return std::nullopt;
        in_addr v4{};
        if (inet_pton(AF_INET, buf, &v4) != 1) return std::nullopt;
        a.bytes[10] = 0xff;
        a.bytes[11] = 0xff;
        std::memcpy(&a.bytes[12], &v4, 4);
        return a;
    }
    // An embedded IPv4 part ("::ffff:1.2.3.4") follows the same leading-zero rule.
    auto last_colon = text.rfind(':');
    auto tail = text.substr(last_colon + 1);
    if (tail.find('.') != std::string_view::npos && !strict_ipv4_text(tail)) return std::nullopt;
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
    std::memcpy(a.bytes.data(), &v6, 16);
    return a;
}

bool IpAddr::is_v4() const {
    for (int i = 0; i < 10; ++i)
        if (bytes[i] != 0) return false;
    return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string IpAddr::str() const {
    char buf[48];
    if (is_v4()) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
        return buf;
    }
    // RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero
    // groups (the first one on a tie) becomes "::".
    unsigned groups[8];
    for (int i = 0; i < 8; ++i) groups[i] = (bytes[2 * i] << 8) | bytes[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0) ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", groups[i]);
        out += buf;
    }
    return out;
}

IpAddr IpAddr::masked(unsigned bits) const {
    IpAddr m = *this;
    if (bits >= 128) return m;
    unsigned full = bits / 8, rest = bits % 8;
    if (rest != 0) m.bytes[full] &= static_cast<std::uint8_t>(0xff << (8 - rest));
    for (unsigned i = full + (rest != 0 ? 1 : 0); i < 16; ++i) m.bytes[i] = 0;
    return m;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<Cidr> {
        if (error) *error = "bad network " + quoted(text) + ": " + why;
        return std::nullopt;
    };
    auto slash = text.find('/');
    auto addr_text = text.substr(0, slash);
    auto addr = IpAddr::parse(addr_text);
    if (!addr) return fail("not an IPv4 or IPv6 address");
    const bool v4_text = addr_text.find(':') == std::string_view::npos;
    const unsigned max = v4_text ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        auto p = text.substr(slash + 1);
        if (p.empty()) return fail("missing prefix length after '/'");
        bool digits = p.size() <= 3 &&
                      std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || (p.size() > 1 && p[0] == '0'))
            return fail("prefix length must be a number from 0 to " + std::to_string(max) +
                        " without sign or leading zeros");
        prefix = 0;
        for (char c : p) prefix = prefix * 10 + static_cast<unsigned>(c - '0');
        if (prefix > max)
            return fail("prefix length " + std::to_string(prefix) + " is over " +
                        std::to_string(max) + (v4_text ? " for IPv4" : " for IPv6"));
    }
    Cidr c;
    c.prefix = v4_text ? prefix + 96 : prefix;
    c.net = addr->masked(c.prefix);
    if (c.net != *addr) {
        return fail("host bits set below the /" + std::to_string(prefix) + " mask (did you mean " +
                    c.str() + "?)");
    }
    return c;
}

bool Cidr::contains(const IpAddr& a) const {
    return a.masked(prefix) == net.masked(prefix);
}

std::string Cidr::str() const {
    if (net.is_v4() && prefix >= 96) {
        if (prefix == 128) return net.str();
        return net.str() + "/" + std::to_string(prefix - 96);
    }
    if (prefix >= 128) return net.str();
    return net.str() + "/" + std::to_string(prefix);
}

void CidrSet::add(const Cidr& c) {
    unsigned p = std::min(c.prefix, 128u);
    auto& v = by_prefix_[p];
    IpAddr net = c.net.masked(p);
    auto it = std::lower_bound(v.begin(), v.end(), net);
    if (it != v.end() && *it == net) return;  // already there
    v.insert(it, net);
    ++size_;
}

bool CidrSet::contains(const IpAddr& a) const {
    if (size_ == 0) return false;
    for (unsigned p = 0; p <= 128; ++p) {
        const auto& v = by_prefix_[p];
        if (!v.empty() && std::binary_search(v.begin(), v.end(), a.masked(p))) return true;
    }
    return false;
}

bool CidrSet::contains(std::string_view address_text) const {
    auto a = IpAddr::parse(address_text);
    return a && contains(*a);
}

}  // namespace mpp
