// lib/cidr.h: IP addresses, CIDR networks and sets of them (IPv4 and IPv6).
//
// An IPv4 address is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one set holds both
// families and a client seen as ::ffff:192.0.2.1 matches 192.0.2.0/24. An IPv4 prefix /n is
// stored as /(96+n). Parsing: "192.0.2.1", "192.0.2.0/24", "2001:db8::/32", "::ffff:192.0.2.1",
// "::/0", "0.0.0.0/0"; a bare address is a /32 or /128. Host bits set below the mask
// ("192.0.2.1/24") are an error (they usually mean a typo), as are masks out of range or
// written with a sign or leading zeros ("/08"), leading zeros in IPv4 octets, zone ids and any
// surrounding text. "0.0.0.0/0" matches every IPv4 address and nothing else; "::/0" matches all.
// An IPv4-mapped address written in IPv6 text takes an IPv6 prefix ("::ffff:192.0.2.0/120").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpp {

struct IpAddr {
    std::array<std::uint8_t, 16> bytes{};  // IPv6 or IPv4-mapped IPv6, network order

    static std::optional<IpAddr> parse(std::string_view text);  // no prefix allowed
    bool is_v4() const;                                          // IPv4-mapped
    std::string str() const;  // dotted quad for IPv4(-mapped), RFC 5952 for IPv6
    // Zeroes every bit past `bits` of the 128-bit form (used for greylist networks).
    IpAddr masked(unsigned bits) const;
    auto operator<=>(const IpAddr&) const = default;
};

struct Cidr {
    IpAddr net;
    unsigned prefix = 128;  // over the 128-bit form: IPv4 /24 is 120

    // nullopt and *error set when the text is not a valid network; the error reads
    // `bad network "TEXT": why` (ready for a "FILE:LINE: " prefix).
    static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);
    bool contains(const IpAddr&) const;
    // As an admin would write it: "192.0.2.0/24", "2001:db8::/32"; a single host without its
    // prefix ("192.0.2.1", "2001:db8::1"). parse(str()) gives back the same Cidr.
    std::string str() const;
    auto operator<=>(const Cidr&) const = default;
};

// A set of networks; lookup is O(number of distinct prefix lengths).
class CidrSet {
public:
    void add(const Cidr&);
    bool contains(const IpAddr&) const;
    bool contains(std::string_view address_text) const;  // false when it is not an address
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

private:
    // Per prefix length (0..128): sorted masked network addresses.
    std::array<std::vector<IpAddr>, 129> by_prefix_{};
    std::size_t size_ = 0;
};

}  // namespace mpp
