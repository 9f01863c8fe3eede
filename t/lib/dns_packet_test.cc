// Tests for lib/dns_packet.h (libresolv underneath): query building and answer parsing, on
// hand-made packets: the question is build_query's, the records are appended by hand here.
#include "lib/dns_packet.h"

#include <gtest/gtest.h>

namespace mpp::dns {
namespace {

std::string bytes(std::initializer_list<unsigned char> b) {
    return std::string(b.begin(), b.end());
}
std::string u16(unsigned v) { return {char(v >> 8), char(v & 0xff)}; }
std::string u32(unsigned v) { return u16(v >> 16) + u16(v & 0xffff); }

// A response to `query`: the question copied, then `records` (already encoded), counts given.
std::string response(const std::string& query, unsigned flags, unsigned an, unsigned ns,
                     const std::string& records) {
    return query.substr(0, 2) + u16(flags) + u16(1) + u16(an) + u16(ns) + u16(0) +
           query.substr(12) + records;
}

// A record whose owner is a pointer to the question name (offset 12).
std::string rr(unsigned type, unsigned ttl, const std::string& rdata) {
    return std::string("\xc0\x0c", 2) + u16(type) + u16(1) + u32(ttl) + u16(rdata.size()) + rdata;
}

TEST(DnsPacket, BuildsAQuery) {
    std::string q;
    ASSERT_TRUE(build_query("2.0.0.127.zen.example.", Type::a, 0x1234, q));
    EXPECT_EQ(q.substr(0, 12), std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12));
    EXPECT_EQ(q.substr(12),
              std::string("\x01" "2\x01" "0\x01" "0\x03" "127\x03zen\x07" "example\x00"
                          "\x00\x01\x00\x01", 27));
}

TEST(DnsPacket, RefusesBadNames) {
    std::string q;
    EXPECT_FALSE(build_query("", Type::a, 1, q));
    EXPECT_FALSE(build_query("a..b", Type::a, 1, q));
    EXPECT_FALSE(build_query(std::string(64, 'a') + ".example", Type::a, 1, q));
    EXPECT_FALSE(build_query("sp ace.example", Type::a, 1, q));
    EXPECT_FALSE(build_query(std::string(250, 'a') + ".example", Type::a, 1, q));
    EXPECT_TRUE(build_query(std::string(63, 'a') + ".example", Type::txt, 1, q));
    // A backslash would be an escape to libresolv: refused, not taken as another name.
    EXPECT_FALSE(build_query("a\\.b.example", Type::a, 1, q));
    EXPECT_FALSE(build_query("\\065.example", Type::a, 1, q));
    EXPECT_FALSE(build_query(".example", Type::a, 1, q));
    EXPECT_FALSE(build_query("a.example..", Type::a, 1, q));
    EXPECT_FALSE(build_query(std::string("nul\0.example", 12), Type::a, 1, q));
}

TEST(DnsPacket, TheIdIsOursAndRecursionIsAsked) {
    std::string q1, q2;
    ASSERT_TRUE(build_query("x.example", Type::txt, 0xbeef, q1));
    ASSERT_TRUE(build_query("x.example", Type::txt, 0xbeef, q2));
    EXPECT_EQ(q1, q2);  // nothing random left in the packet but the ID we give
    EXPECT_EQ(q1.substr(0, 4), std::string("\xbe\xef\x01\x00", 4));
    EXPECT_EQ(q1.substr(q1.size() - 4), std::string("\x00\x10\x00\x01", 4));
}

TEST(DnsPacket, ParsesAnswersWithLowestTtl) {
    std::string q;
    build_query("2.0.0.127.rbl.example", Type::a, 7, q);
    std::string r = response(q, 0x8180, 2, 0,
                             rr(1, 300, bytes({127, 0, 0, 2})) + rr(1, 60, bytes({127, 0, 0, 10})));
    std::string error;
    auto p = parse_response(r, q, &error);
    ASSERT_TRUE(p) << error;
    EXPECT_EQ(p->rcode, 0);
    EXPECT_EQ(p->records, (std::vector<std::string>{"127.0.0.2", "127.0.0.10"}));
    EXPECT_EQ(p->ttl, 60u);
}

TEST(DnsPacket, ParsesTxtAndSkipsCname) {
    std::string q;
    build_query("2.0.0.127.rbl.example", Type::txt, 7, q);
    std::string cname = rr(5, 100, "\x03" "abc\xc0\x0c");
    std::string r = response(q, 0x8180, 2, 0, cname + rr(16, 100, "\x05Hello\x06, list"));
    auto p = parse_response(r, q, nullptr);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->records, (std::vector<std::string>{"Hello, list"}));
}

TEST(DnsPacket, NegativeTtlFromSoa) {
    std::string q;
    build_query("3.0.0.127.rbl.example", Type::a, 9, q);
    std::string soa = std::string("\x02ns\xc0\x0c", 5) + std::string("\x01h\xc0\x0c", 4) +
                      u32(1) + u32(3600) + u32(600) + u32(86400) + u32(120);
    auto p = parse_response(response(q, 0x8183, 0, 1, rr(6, 900, soa)), q, nullptr);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rcode, 3);
    EXPECT_TRUE(p->records.empty());
    ASSERT_TRUE(p->negative_ttl);
    EXPECT_EQ(*p->negative_ttl, 120u);
    // SOA TTL lower than MINIMUM: the TTL counts (RFC 2308).
    p = parse_response(response(q, 0x8183, 0, 1, rr(6, 30, soa)), q, nullptr);
    EXPECT_EQ(*p->negative_ttl, 30u);
}

TEST(DnsPacket, RefusesForeignOrBrokenPackets) {
    std::string q;
    build_query("x.rbl.example", Type::a, 9, q);
    std::string good = response(q, 0x8180, 1, 0, rr(1, 10, bytes({127, 0, 0, 2})));
    std::string error;
    std::string other_id = good;
    other_id[1] ^= 1;
    EXPECT_FALSE(parse_response(other_id, q, &error));
    EXPECT_EQ(error, "wrong id");
    std::string other_q = good;
    other_q[13] = 'y';
    EXPECT_FALSE(parse_response(other_q, q, &error));
    std::string not_resp = good;
    not_resp[2] = 0x01;
    EXPECT_FALSE(parse_response(not_resp, q, &error));
    // Every truncation of a good answer is refused or parsed, never read past the end.
    for (std::size_t n = 0; n < good.size(); ++n)
        EXPECT_FALSE(parse_response(good.substr(0, n), q, nullptr)) << n;
    // A bad A length, a TXT string running past its record.
    EXPECT_FALSE(
        parse_response(response(q, 0x8180, 1, 0, rr(1, 10, bytes({127, 0, 2}))), q, nullptr));
    std::string tq;
    build_query("x.rbl.example", Type::txt, 9, tq);
    EXPECT_FALSE(parse_response(response(tq, 0x8180, 1, 0, rr(16, 10, "\x09short")), tq, nullptr));
    // Case differences in the echoed question are accepted.
    std::string upper = good;
    upper[13] = 'X';
    EXPECT_TRUE(parse_response(upper, q, nullptr));
    // The same name asked for another type is another question.
    std::string other_type = good;
    other_type[q.size() - 3] = 16;
    EXPECT_FALSE(parse_response(other_type, q, &error));
    EXPECT_EQ(error, "answer to another question");
    // Bytes after the last section: not an answer libresolv can read whole.
    EXPECT_FALSE(parse_response(good + "junk", q, nullptr));
}

TEST(DnsPacket, PointerLoopsAndBadPointersAreRefused) {
    std::string q;
    build_query("x.rbl.example", Type::a, 9, q);
    const std::size_t at = q.size();  // where the first record starts
    // An owner name that points at itself.
    std::string self = std::string(1, char(0xc0)) + char(at) + u16(1) + u16(1) + u32(10) +
                       u16(4) + bytes({127, 0, 0, 2});
    std::string error;
    EXPECT_FALSE(parse_response(response(q, 0x8180, 1, 0, self), q, &error));
    // An owner name that points past the packet.
    std::string far = std::string("\xc0\xff", 2) + u16(1) + u16(1) + u32(10) + u16(4) +
                      bytes({127, 0, 0, 2});
    EXPECT_FALSE(parse_response(response(q, 0x8180, 1, 0, far), q, &error));
    // An SOA whose names run past its record data.
    std::string soa = std::string("\x02ns\xc0\x0c", 5) + u32(1);
    EXPECT_FALSE(parse_response(response(q, 0x8183, 0, 1, rr(6, 900, soa)), q, &error));
    EXPECT_EQ(error, "malformed SOA");
}

TEST(DnsPacket, FlagsTruncationRcodeAndTheAdditionalSection) {
    std::string q;
    build_query("x.rbl.example", Type::a, 9, q);
    auto p = parse_response(response(q, 0x8382, 0, 0, ""), q, nullptr);  // TC, SERVFAIL
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->truncated);
    EXPECT_EQ(p->rcode, 2);
    // An EDNS OPT record in the additional section is read over, not taken as an answer.
    std::string opt = std::string(1, '\0') + u16(41) + u16(1232) + u32(0) + u16(0);
    std::string r = q.substr(0, 2) + u16(0x8180) + u16(1) + u16(1) + u16(0) + u16(1) +
                    q.substr(12) + rr(1, 10, bytes({127, 0, 0, 4})) + opt;
    p = parse_response(r, q, nullptr);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->records, std::vector<std::string>{"127.0.0.4"});
    // Records of another class do not count.
    std::string chaos = std::string("\xc0\x0c", 2) + u16(1) + u16(3) + u32(10) + u16(4) +
                        bytes({127, 0, 0, 2});
    p = parse_response(response(q, 0x8180, 1, 0, chaos), q, nullptr);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->records.empty());
}

TEST(DnsPacket, AtMostMaxRecordsAreKept) {
    std::string q;
    build_query("x.rbl.example", Type::a, 9, q);
    std::string records;
    for (unsigned i = 0; i < kMaxRecords + 10; ++i)
        records += rr(1, 100 + i, bytes({127, 0, 0, static_cast<unsigned char>(i)}));
    auto p = parse_response(response(q, 0x8180, kMaxRecords + 10, 0, records), q, nullptr);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->records.size(), kMaxRecords);
    EXPECT_EQ(p->ttl, 100u);
}

}  // namespace
}  // namespace mpp::dns
