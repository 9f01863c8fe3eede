// t/fuzz/dns_packet_fuzz.cc: libFuzzer target for lib/dns_packet.h's answer parser (libresolv's
// ns_initparse/ns_parserr and the record reading around them), which reads packets from the
// network.
//
// Input: a DNS response. It is parsed twice: as the answer to an A query and to a TXT query for
// "2.0.0.127.rbl.example" with the ID of the input's first two bytes (so the fuzzer gets past
// the ID and question checks), and as the answer to itself taken as the query. The parser must
// return a value or nullopt, never read outside the input, and these invariants must hold (a
// violation aborts, so the fuzzer reports it): at most kMaxRecords records; every record of an
// A answer is a dotted quad; a response has a non-negative rcode below 16.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/dns_packet.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool dotted_quad(const std::string& s) {
    int dots = 0, digits = 0;
    for (char c : s) {
        if (c == '.') {
            if (digits == 0) return false;
            ++dots;
            digits = 0;
        } else if (c >= '0' && c <= '9') {
            if (++digits > 3) return false;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

void parse(std::string_view packet, mpp::dns::Type type) {
    std::uint16_t id = 0;
    if (packet.size() >= 2)
        id = static_cast<std::uint16_t>((static_cast<std::uint8_t>(packet[0]) << 8) |
                                        static_cast<std::uint8_t>(packet[1]));
    std::string query;
    check(mpp::dns::build_query("2.0.0.127.rbl.example", type, id, query));
    std::string error;
    auto r = mpp::dns::parse_response(packet, query, &error);
    if (!r) {
        check(!error.empty());
        return;
    }
    check(r->records.size() <= mpp::dns::kMaxRecords);
    check(r->rcode >= 0 && r->rcode < 16);
    if (type == mpp::dns::Type::a)
        for (const auto& rec : r->records) check(dotted_quad(rec));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view packet(reinterpret_cast<const char*>(data), size);
    parse(packet, mpp::dns::Type::a);
    parse(packet, mpp::dns::Type::txt);
    if (size >= 16) {  // a header and the shortest question
        auto r = mpp::dns::parse_response(packet, packet, nullptr);
        if (r) check(r->records.size() <= mpp::dns::kMaxRecords);
    }
    return 0;
}
