// lib/dns_packet.h: the DNS wire format as the resolver (lib/dns.h) needs it: one query (A or
// TXT, recursion desired) and the answer to it.
//
// Pure functions, no state, no I/O; every length is checked against the packet before it is
// read, compression pointers are followed only to skip names (never to build them), so a
// hostile answer can only be refused. Bounds: a name of at most 253 characters in labels of at
// most 63 (RFC 1035); at most kMaxRecords records are read from one answer.
// What a response must show to be taken: our ID, QR set, one question equal (case-insensitive)
// to the one we asked. Only records of the asked type in the answer section count (a CNAME
// before them is skipped, its target is not checked). TTL of an answer: the lowest TTL of its
// records. Negative answers (NXDOMAIN, or no record of the type): the SOA of the authority
// section gives min(SOA TTL, SOA MINIMUM) (RFC 2308), else none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpp::dns {

enum class Type : std::uint16_t { a = 1, txt = 16 };

constexpr std::size_t kMaxRecords = 64;

// The query packet for `name` (trailing dot optional); false when the name is not a valid DNS
// name (empty label, label over 63, name over 253 characters, bytes outside printable ASCII).
bool build_query(std::string_view name, Type type, std::uint16_t id, std::string& out);

struct Response {
    int rcode = 0;                 // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
    bool truncated = false;        // TC bit: the answer did not fit in UDP
    std::vector<std::string> records;  // A: dotted quads; TXT: the strings of one record joined
    std::uint32_t ttl = 0;         // lowest TTL of `records`
    std::optional<std::uint32_t> negative_ttl;  // from the SOA of a negative answer
};

// Parses the answer to `query` (the packet build_query made). nullopt with *error set when the
// packet is malformed or does not answer that query.
std::optional<Response> parse_response(std::string_view packet, std::string_view query,
                                       std::string* error);

}  // namespace mpp::dns
