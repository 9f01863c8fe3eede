// lib/dns_packet.cc: DNS query building and answer parsing (see dns_packet.h).
#include "lib/dns_packet.h"

#include <algorithm>

namespace mpp::dns {
namespace {

constexpr std::size_t kHeader = 12;
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint16_t kTypeSoa = 6;

void put16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

class Reader {
public:
    explicit Reader(std::string_view p) : p_(p) {}
    bool u8(std::uint8_t& v) {
        if (pos_ + 1 > p_.size()) return false;
        v = static_cast<std::uint8_t>(p_[pos_++]);
        return true;
    }
    bool u16(std::uint16_t& v) {
        if (pos_ + 2 > p_.size()) return false;
        v = static_cast<std::uint16_t>((byte(pos_) << 8) | byte(pos_ + 1));
        pos_ += 2;
        return true;
    }
    bool u32(std::uint32_t& v) {
        std::uint16_t hi = 0, lo = 0;
        if (!u16(hi) || !u16(lo)) return false;
        v = (static_cast<std::uint32_t>(hi) << 16) | lo;
        return true;
    }
    // Skips a (possibly compressed) name at the current position.
    bool skip_name() {
        for (int labels = 0; labels < 128; ++labels) {
            std::uint8_t len = 0;
            if (!u8(len)) return false;
            if (len == 0) return true;
            if ((len & 0xc0) == 0xc0) return skip(1);  // a pointer ends the name here
            if (len & 0xc0) return false;              // reserved label types
            if (!skip(len)) return false;
        }
        return false;
    }
    bool skip(std::size_t n) {
        if (pos_ + n > p_.size()) return false;
        pos_ += n;
        return true;
    }
    std::size_t pos() const { return pos_; }
    std::string_view view(std::size_t from, std::size_t n) const { return p_.substr(from, n); }

private:
    unsigned byte(std::size_t i) const { return static_cast<std::uint8_t>(p_[i]); }
    std::string_view p_;
    std::size_t pos_ = 0;
};

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

std::optional<Response> fail(std::string* error, const char* why) {
    if (error) *error = why;
    return std::nullopt;
}

}  // namespace

bool build_query(std::string_view name, Type type, std::uint16_t id, std::string& out) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    out.clear();
    put16(out, id);
    put16(out, 0x0100);  // RD
    put16(out, 1);       // QDCOUNT
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        std::string_view label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63) return false;
        for (char c : label)
            if (c <= ' ' || c > '~') return false;
        out.push_back(static_cast<char>(label.size()));
        out.append(label);
        start = dot + 1;
    }
    out.push_back('\0');
    put16(out, static_cast<std::uint16_t>(type));
    put16(out, kClassIn);
    return true;
}

std::optional<Response> parse_response(std::string_view packet, std::string_view query,
                                       std::string* error) {
    if (packet.size() < kHeader || query.size() < kHeader) return fail(error, "short packet");
    Reader r(packet);
    std::uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
    r.u16(id);
    r.u16(flags);
    r.u16(qd);
    r.u16(an);
    r.u16(ns);
    r.u16(ar);
    if (packet.substr(0, 2) != query.substr(0, 2)) return fail(error, "wrong id");
    if (!(flags & 0x8000)) return fail(error, "not a response");
    if (qd != 1) return fail(error, "not one question");
    // The question must be ours, byte for byte but for case (resolvers may echo 0x20 case).
    std::string_view asked = query.substr(kHeader);
    if (!r.skip(asked.size()) || !iequal(packet.substr(kHeader, asked.size()), asked))
        return fail(error, "answer to another question");
    const std::uint16_t want = static_cast<std::uint16_t>(
        (static_cast<std::uint8_t>(asked[asked.size() - 4]) << 8) |
        static_cast<std::uint8_t>(asked[asked.size() - 3]));

    Response resp;
    resp.rcode = flags & 0x000f;
    resp.truncated = flags & 0x0200;
    bool have_ttl = false;
    for (unsigned i = 0; i < an + ns; ++i) {
        std::uint16_t type = 0, cls = 0, rdlen = 0;
        std::uint32_t ttl = 0;
        if (!r.skip_name() || !r.u16(type) || !r.u16(cls) || !r.u32(ttl) || !r.u16(rdlen))
            return fail(error, "truncated record");
        const std::size_t rdata = r.pos();
        if (!r.skip(rdlen)) return fail(error, "truncated record data");
        ttl = std::min<std::uint32_t>(ttl, 0x7fffffff);
        if (i >= an) {  // authority: the SOA of a negative answer
            if (type != kTypeSoa || cls != kClassIn) continue;
            Reader s(packet);
            std::uint32_t serial, refresh, retry, expire, minimum;
            if (!s.skip(rdata) || !s.skip_name() || !s.skip_name() || !s.u32(serial) ||
                !s.u32(refresh) || !s.u32(retry) || !s.u32(expire) || !s.u32(minimum) ||
                s.pos() > rdata + rdlen)
                return fail(error, "malformed SOA");
            resp.negative_ttl = std::min(ttl, minimum);
            continue;
        }
        if (type != want || cls != kClassIn) continue;  // a CNAME on the way, or other data
        if (resp.records.size() >= kMaxRecords) continue;
        std::string_view data = r.view(rdata, rdlen);
        if (want == static_cast<std::uint16_t>(Type::a)) {
            if (rdlen != 4) return fail(error, "A record of a wrong size");
            std::string quad;
            for (int b = 0; b < 4; ++b) {
                if (b) quad.push_back('.');
                quad += std::to_string(static_cast<std::uint8_t>(data[b]));
            }
            resp.records.push_back(std::move(quad));
        } else {
            std::string text;
            for (std::size_t p = 0; p < data.size();) {
                std::size_t len = static_cast<std::uint8_t>(data[p]);
                if (p + 1 + len > data.size()) return fail(error, "malformed TXT record");
                text.append(data.substr(p + 1, len));
                p += 1 + len;
            }
            resp.records.push_back(std::move(text));
        }
        resp.ttl = have_ttl ? std::min(resp.ttl, ttl) : ttl;
        have_ttl = true;
    }
    return resp;
}

}  // namespace mpp::dns
