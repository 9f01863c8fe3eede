// t/policy/policy_request_test.cc: the policy request parser (RELIABILITY B1-B3, B5, B6) and the
// mapping of a request to a Transaction.
#include "policy/policy_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using mpp::policy::PolicyRequest;
using mpp::policy::PolicyRequestParser;
using mpp::policy::Stage;
using Status = PolicyRequestParser::Status;

namespace {

const std::string kBase =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.1\n"
    "client_name=mail.example.com\n"
    "helo_name=mail.example.com\n"
    "sender=alice@example.com\n"
    "recipient=bob@example.net\n"
    "queue_id=4XyZ1\n"
    "instance=123.456.7\n"
    "size=1234\n"
    "recipient_count=0\n";

struct Outcome {
    Status status;
    std::size_t consumed;
    std::string error;
    PolicyRequest request;
};

Outcome parse_all(const std::string& input) {
    PolicyRequestParser p;
    auto step = p.feed(input);
    Outcome o{step.status, step.consumed, p.error(), {}};
    if (step.status == Status::complete) o.request = p.take();
    return o;
}

struct Case {
    const char* name;
    std::string input;
    Status status;
    const char* error_part;  // a substring of the error ("" when not malformed)
};

std::string lines(std::size_t n, const std::string& line) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += line;
    return s;
}

}  // namespace

TEST(PolicyRequest, TableOfShapes) {
    const std::string big_value(8192 - 2, 'a');  // "x=" + value = 8192 bytes: at the limit
    const std::vector<Case> cases = {
        {"lf", kBase + "\n", Status::complete, ""},
        {"crlf", "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n\r\n", Status::complete, ""},
        {"mixed endings", "request=smtpd_access_policy\r\nprotocol_state=RCPT\n\r\n",
         Status::complete, ""},
        {"unterminated", kBase, Status::need_more, ""},
        {"no request", "protocol_state=RCPT\n\n", Status::malformed, "no request="},
        {"other request", "request=junk\nprotocol_state=RCPT\n\n", Status::malformed,
         "unknown request type \"junk\""},
        {"no protocol_state", "request=smtpd_access_policy\n\n", Status::malformed,
         "no protocol_state"},
        {"unknown protocol_state", "request=smtpd_access_policy\nprotocol_state=QUIT\n\n",
         Status::malformed, "unknown protocol_state \"QUIT\""},
        {"empty request", "\n", Status::malformed, "empty request"},
        {"line without =", kBase + "garbage\n\n", Status::malformed, "line without '='"},
        {"empty name", kBase + "=value\n\n", Status::malformed, "empty attribute name"},
        {"space in name", kBase + "bad name=1\n\n", Status::malformed, "bad attribute name"},
        {"bare CR", kBase + "sender=a\rb\n\n", Status::malformed, "bare CR"},
        {"CR CR LF", kBase + "x=1\r\r\n\n", Status::malformed, "bare CR"},
        {"NUL in value", kBase + std::string("sender=a\0b\n\n", 13), Status::malformed,
         "NUL byte"},
        {"line at the limit", kBase + "x=" + big_value + "\n\n", Status::complete, ""},
        {"line over the limit", kBase + "x=" + big_value + "a\n\n", Status::malformed,
         "line over 8192 bytes"},
        {"128 attributes", "request=smtpd_access_policy\nprotocol_state=RCPT\n" +
                               lines(126, "x=1\n") + "\n",
         Status::complete, ""},
        {"129 attributes", "request=smtpd_access_policy\nprotocol_state=RCPT\n" +
                               lines(127, "x=1\n") + "\n",
         Status::malformed, "more than 128 attributes"},
        {"request over 64 KiB", "request=smtpd_access_policy\n" + lines(9, "x=" + big_value + "\n"),
         Status::malformed, "request over 65536 bytes"},
        {"sender not UTF-8", kBase + "sender=a\xff@example.com\n\n", Status::malformed,
         "sender is not UTF-8"},
        {"recipient overlong UTF-8", kBase + "recipient=\xc0\xafx@example.com\n\n",
         Status::malformed, "recipient is not UTF-8"},
        {"recipient UTF-8", kBase + "recipient=j\xc3\xb6rg@example.com\n\n", Status::complete, ""},
        {"helo not UTF-8 is kept", kBase + "helo_name=\xff\n\n", Status::complete, ""},
        {"size not a number", kBase + "size=12k\n\n", Status::malformed, "size is not a number"},
        {"recipient_count negative", kBase + "recipient_count=-1\n\n", Status::malformed,
         "recipient_count is not a number"},
        {"unknown attributes ignored", kBase + "future_attribute=1\nx.y-z=\n\n", Status::complete,
         ""},
        {"value with =", kBase + "ccert_subject=CN=a=b\n\n", Status::complete, ""},
        {"10 KB local part", kBase + "sender=" + std::string(10240, 'l') + "@example.com\n\n",
         Status::malformed, "line over"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto o = parse_all(c.input);
        EXPECT_EQ(o.status, c.status) << o.error;
        if (c.status == Status::malformed) {
            EXPECT_NE(o.error.find(c.error_part), std::string::npos) << o.error;
        } else {
            EXPECT_EQ(o.error, "");
        }
        if (c.status != Status::malformed) {
            EXPECT_EQ(o.consumed, c.input.size());
        }
    }
}

TEST(PolicyRequest, MalformedStopsAtTheLimitAndStays) {
    PolicyRequestParser p;
    std::string flood(100000, 'a');
    auto step = p.feed(flood);
    EXPECT_EQ(step.status, Status::malformed);
    EXPECT_EQ(step.consumed, PolicyRequestParser::kMaxLine + 1);  // not the whole flood
    EXPECT_EQ(p.feed("request=smtpd_access_policy\n\n").status, Status::malformed);
    EXPECT_NE(p.error().find("..."), std::string::npos) << "the quoted line is cut";
    EXPECT_LT(p.error().size(), 200u);
}

TEST(PolicyRequest, ErrorEscapesControlCharacters) {
    auto o = parse_all("request=smtpd_access_policy\nbad\x1b[31m\n\n");
    ASSERT_EQ(o.status, Status::malformed);
    EXPECT_EQ(o.error.find('\x1b'), std::string::npos) << o.error;
}

TEST(PolicyRequest, FieldsAndDuplicatesLastWins) {
    auto o = parse_all(kBase + "sender=first@example.com\nsender=last@example.com\n\n");
    ASSERT_EQ(o.status, Status::complete) << o.error;
    EXPECT_EQ(o.request.sender, "last@example.com");
    EXPECT_EQ(o.request.recipient, "bob@example.net");
    EXPECT_EQ(o.request.protocol_name, "ESMTP");
    EXPECT_EQ(o.request.queue_id, "4XyZ1");
    EXPECT_EQ(o.request.attributes, 14u);
}

TEST(PolicyRequest, CrlfAndLfGiveTheSameRequest) {
    std::string crlf;
    for (char c : kBase + "\n") {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    auto a = parse_all(kBase + "\n");
    auto b = parse_all(crlf);
    ASSERT_EQ(a.status, Status::complete);
    ASSERT_EQ(b.status, Status::complete) << b.error;
    EXPECT_EQ(a.request.sender, b.request.sender);
    EXPECT_EQ(a.request.client_address, b.request.client_address);
    EXPECT_EQ(a.request.size, b.request.size);
}

TEST(PolicyRequest, PipelinedAndSplitGiveIdenticalResults) {
    const std::string one = kBase + "\n";
    const std::string two = "request=smtpd_access_policy\nprotocol_state=DATA\nrecipient_count=3\n\n";
    const std::string both = one + two;
    // All in one buffer: the first request ends exactly where the second starts.
    PolicyRequestParser p;
    auto s1 = p.feed(both);
    ASSERT_EQ(s1.status, Status::complete);
    EXPECT_EQ(s1.consumed, one.size());
    auto r1 = p.take();
    auto s2 = p.feed(std::string_view(both).substr(s1.consumed));
    ASSERT_EQ(s2.status, Status::complete);
    auto r2 = p.take();
    EXPECT_EQ(r1.recipient, "bob@example.net");
    EXPECT_EQ(r2.protocol_state, "DATA");
    // Byte by byte: the same two requests.
    PolicyRequestParser q;
    std::vector<PolicyRequest> got;
    for (char c : both) {
        auto s = q.feed(std::string_view(&c, 1));
        ASSERT_NE(s.status, Status::malformed) << q.error();
        EXPECT_EQ(s.consumed, 1u);
        if (s.status == Status::complete) {
            got.push_back(q.take());
            EXPECT_FALSE(q.in_request());
        } else {
            EXPECT_TRUE(q.in_request());
        }
    }
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].sender, r1.sender);
    EXPECT_EQ(got[0].instance, r1.instance);
    EXPECT_EQ(got[1].recipient_count, "3");
    EXPECT_FALSE(q.in_request());
}

TEST(PolicyRequest, StageMapping) {
    EXPECT_EQ(mpp::policy::parse_stage("CONNECT"), Stage::connect);
    EXPECT_EQ(mpp::policy::parse_stage("EHLO"), Stage::helo);
    EXPECT_EQ(mpp::policy::parse_stage("HELO"), Stage::helo);
    EXPECT_EQ(mpp::policy::parse_stage("MAIL"), Stage::mail);
    EXPECT_EQ(mpp::policy::parse_stage("RCPT"), Stage::rcpt);
    EXPECT_EQ(mpp::policy::parse_stage("DATA"), Stage::data);
    EXPECT_EQ(mpp::policy::parse_stage("END-OF-MESSAGE"), Stage::end_of_message);
    EXPECT_EQ(mpp::policy::parse_stage("VRFY"), Stage::unknown);
    EXPECT_EQ(mpp::policy::parse_stage("ETRN"), Stage::unknown);
    EXPECT_EQ(mpp::policy::parse_stage("rcpt"), std::nullopt);
    EXPECT_EQ(mpp::policy::parse_stage(""), std::nullopt);
}

TEST(PolicyRequest, TransactionMapping) {
    auto o = parse_all(kBase + "sasl_username=alice\n\n");
    ASSERT_EQ(o.status, Status::complete);
    auto t = mpp::policy::to_transaction(o.request);
    EXPECT_EQ(t.stage, Stage::rcpt);
    ASSERT_TRUE(t.client.has_value());
    EXPECT_EQ(t.client->str(), "192.0.2.1");
    EXPECT_EQ(t.client_address, "192.0.2.1");
    EXPECT_EQ(t.client_name, "mail.example.com");
    EXPECT_EQ(t.helo, "mail.example.com");
    EXPECT_EQ(t.sender, "alice@example.com");
    EXPECT_EQ(t.recipient, "bob@example.net");
    EXPECT_EQ(t.sasl_username, "alice");
    EXPECT_EQ(t.queue_id, "4XyZ1");
    EXPECT_EQ(t.instance, "123.456.7");
    EXPECT_EQ(t.size, 1234u);
    EXPECT_EQ(t.recipient_count, 0u);
}

TEST(PolicyRequest, ClientAddressShapes) {
    struct AddrCase {
        const char* text;
        bool has_ip;
        bool v4;
        const char* shown;
    };
    const AddrCase cases[] = {
        {"unknown", false, false, ""},
        {"1.2.3.4.5", false, false, ""},
        {"", false, false, ""},
        {"mail.example.com", false, false, ""},
        {"::ffff:192.0.2.7", true, true, "192.0.2.7"},
        {"2001:db8::1", true, false, "2001:db8::1"},
        {"198.51.100.9", true, true, "198.51.100.9"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        PolicyRequest r;
        r.protocol_state = "RCPT";
        r.client_address = c.text;
        auto t = mpp::policy::to_transaction(r);
        ASSERT_EQ(t.client.has_value(), c.has_ip);
        EXPECT_EQ(t.client_address, c.text);
        if (c.has_ip) {
            EXPECT_EQ(t.client->is_v4(), c.v4);
            EXPECT_EQ(t.client->str(), c.shown);
        }
    }
}

TEST(PolicyRequest, StagesOfOtherStates) {
    auto o = parse_all("request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\n"
                       "recipient_count=7\nsize=\n\n");
    ASSERT_EQ(o.status, Status::complete) << o.error;
    auto t = mpp::policy::to_transaction(o.request);
    EXPECT_EQ(t.stage, Stage::end_of_message);
    EXPECT_EQ(t.recipient_count, 7u);
    EXPECT_EQ(t.size, 0u);
    EXPECT_FALSE(t.client.has_value());
}
