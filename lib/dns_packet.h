// lib/dns_packet.h: the DNS wire format as the resolver (lib/dns.h) needs it, through glibc's
// resolver library (libresolv): one query (A or TXT, recursion desired) built by res_mkquery,
// and the answer to it read with ns_initparse / ns_parserr / ns_name_uncompress / ns_get32.
//
// Pure functions, no state, no I/O. libresolv checks every length and compression pointer
// against the packet (a pointer loop or a record running past the end is refused); what is left
// here is reading the record data of the two types we ask for and the SOA, each bounded by its
// record's length. Bounds: a name of at most 253 characters in labels of at most 63 (RFC 1035);
// at most kMaxRecords records are kept from one answer.
// What a response must show to be taken: our ID, QR set, one question naming the name, type and
// class we asked (the name case-insensitive, as libresolv prints both). Only records of the
// asked type and class IN in the answer section count (a CNAME before them is skipped, its
// target is not checked). TTL of an answer: the lowest TTL of its records. Negative answers
// (NXDOMAIN, or no record of the type): the SOA of the authority section gives min(SOA TTL,
// SOA MINIMUM) (RFC 2308), else none. A packet libresolv cannot parse whole (every section,
// the additional one too) is refused.
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
// name (empty label, label over 63, name over 253 characters, bytes outside printable ASCII,
// a backslash: names are taken literally, never as libresolv's escapes).
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
