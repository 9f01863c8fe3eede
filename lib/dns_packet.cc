// lib/dns_packet.cc: DNS queries and answers through libresolv (see dns_packet.h).
#include "lib/dns_packet.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <strings.h>

#include <algorithm>

namespace mpp::dns {
namespace {

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::optional<Response> fail(std::string* error, const char* why) {
    if (error) *error = why;
    return std::nullopt;
}

// Bytes a name may hold: printable ASCII without space, and no backslash (libresolv would take
// it as an escape and ask another name than the one given).
bool plain_name(std::string_view name) {
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return c > ' ' && c <= '~' && c != '\\'; });
}

// The text of a TXT record: its character-strings joined; false when one runs past the data.
bool txt_text(const unsigned char* p, std::size_t len, std::string& out) {
    for (std::size_t at = 0; at < len;) {
        const std::size_t n = p[at];
        if (at + 1 + n > len) return false;
        out.append(reinterpret_cast<const char*>(p + at + 1), n);
        at += 1 + n;
    }
    return true;
}

// min(SOA TTL, SOA MINIMUM) of an SOA record; nullopt when its data is malformed.
std::optional<std::uint32_t> soa_negative_ttl(const ns_msg& m, const ns_rr& rr) {
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    char name[NS_MAXDNAME];
    for (int k = 0; k < 2; ++k) {  // MNAME, RNAME (possibly compressed)
        const int n = ns_name_uncompress(ns_msg_base(m), ns_msg_end(m), p, name, sizeof name);
        if (n < 0) return std::nullopt;
        p += n;
        if (p > end) return std::nullopt;
    }
    if (end - p < 5 * NS_INT32SZ) return std::nullopt;  // SERIAL REFRESH RETRY EXPIRE MINIMUM
    const auto minimum = static_cast<std::uint32_t>(ns_get32(p + 4 * NS_INT32SZ));
    return std::min<std::uint32_t>({static_cast<std::uint32_t>(ns_rr_ttl(rr)), minimum,
                                    0x7fffffff});
}

}  // namespace

bool build_query(std::string_view name, Type type, std::uint16_t id, std::string& out) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253 || name.back() == '.' || !plain_name(name))
        return false;
    // Empty labels and labels over 63 bytes are res_mkquery's to refuse.
    const std::string text(name);
    unsigned char buf[NS_PACKETSZ];
    const int len = res_mkquery(ns_o_query, text.c_str(), ns_c_in, static_cast<int>(type),
                                nullptr, 0, nullptr, buf, sizeof buf);
    if (len < NS_HFIXEDSZ) return false;
    auto* header = reinterpret_cast<HEADER*>(buf);
    header->id = htons(id);
    header->rd = 1;
    out.assign(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
    return true;
}

std::optional<Response> parse_response(std::string_view packet, std::string_view query,
                                       std::string* error) {
    if (packet.size() < NS_HFIXEDSZ || query.size() < NS_HFIXEDSZ)
        return fail(error, "short packet");
    if (ns_get16(bytes(packet)) != ns_get16(bytes(query))) return fail(error, "wrong id");
    ns_msg q, m;
    ns_rr asked, echoed;
    if (ns_initparse(bytes(query), static_cast<int>(query.size()), &q) != 0 ||
        ns_msg_count(q, ns_s_qd) != 1 || ns_parserr(&q, ns_s_qd, 0, &asked) != 0)
        return fail(error, "not a query");
    if (ns_initparse(bytes(packet), static_cast<int>(packet.size()), &m) != 0)
        return fail(error, "malformed packet");
    if (!ns_msg_getflag(m, ns_f_qr)) return fail(error, "not a response");
    if (ns_msg_count(m, ns_s_qd) != 1) return fail(error, "not one question");
    if (ns_parserr(&m, ns_s_qd, 0, &echoed) != 0) return fail(error, "malformed question");
    // The question must be ours, but for case (resolvers may echo 0x20 case).
    if (ns_rr_type(echoed) != ns_rr_type(asked) || ns_rr_class(echoed) != ns_rr_class(asked) ||
        ::strcasecmp(ns_rr_name(echoed), ns_rr_name(asked)) != 0)
        return fail(error, "answer to another question");
    const ns_type want = ns_rr_type(asked);

    Response resp;
    resp.rcode = ns_msg_getflag(m, ns_f_rcode);
    resp.truncated = ns_msg_getflag(m, ns_f_tc) != 0;
    bool have_ttl = false;
    for (int i = 0; i < ns_msg_count(m, ns_s_an); ++i) {
        ns_rr rr;
        if (ns_parserr(&m, ns_s_an, i, &rr) != 0) return fail(error, "malformed record");
        if (ns_rr_type(rr) != want || ns_rr_class(rr) != ns_c_in) continue;  // a CNAME, or other
        if (resp.records.size() >= kMaxRecords) continue;
        std::string text;
        if (want == ns_t_a) {
            char quad[INET_ADDRSTRLEN];
            if (ns_rr_rdlen(rr) != NS_INADDRSZ ||
                !::inet_ntop(AF_INET, ns_rr_rdata(rr), quad, sizeof quad))
                return fail(error, "A record of a wrong size");
            text = quad;
        } else if (!txt_text(ns_rr_rdata(rr), ns_rr_rdlen(rr), text)) {
            return fail(error, "malformed TXT record");
        }
        resp.records.push_back(std::move(text));
        const auto ttl = std::min<std::uint32_t>(static_cast<std::uint32_t>(ns_rr_ttl(rr)),
                                                 0x7fffffff);
        resp.ttl = have_ttl ? std::min(resp.ttl, ttl) : ttl;
        have_ttl = true;
    }
    for (int i = 0; i < ns_msg_count(m, ns_s_ns); ++i) {  // the SOA of a negative answer
        ns_rr rr;
        if (ns_parserr(&m, ns_s_ns, i, &rr) != 0) return fail(error, "malformed record");
        if (ns_rr_type(rr) != ns_t_soa || ns_rr_class(rr) != ns_c_in) continue;
        auto negative = soa_negative_ttl(m, rr);
        if (!negative) return fail(error, "malformed SOA");
        resp.negative_ttl = negative;
    }
    return resp;
}

}  // namespace mpp::dns
