// policy/policy_request.cc: the policy request parser and its Transaction mapping (see
// policy_request.h for the wire format, limits and what is malformed).
#include "policy/policy_request.h"

#include <charconv>
#include <utility>

#include "lib/quote.h"

namespace mpp::policy {
namespace {

constexpr std::size_t kShown = 80;  // bytes of offending input quoted in an error

struct Known {
    std::string_view name;
    std::string PolicyRequest::*field;
};

constexpr Known kKnown[] = {
    {"request", &PolicyRequest::request},
    {"protocol_state", &PolicyRequest::protocol_state},
    {"protocol_name", &PolicyRequest::protocol_name},
    {"helo_name", &PolicyRequest::helo_name},
    {"queue_id", &PolicyRequest::queue_id},
    {"sender", &PolicyRequest::sender},
    {"recipient", &PolicyRequest::recipient},
    {"recipient_count", &PolicyRequest::recipient_count},
    {"client_address", &PolicyRequest::client_address},
    {"client_name", &PolicyRequest::client_name},
    {"client_port", &PolicyRequest::client_port},
    {"reverse_client_name", &PolicyRequest::reverse_client_name},
    {"instance", &PolicyRequest::instance},
    {"sasl_method", &PolicyRequest::sasl_method},
    {"sasl_username", &PolicyRequest::sasl_username},
    {"sasl_sender", &PolicyRequest::sasl_sender},
    {"size", &PolicyRequest::size},
    {"ccert_subject", &PolicyRequest::ccert_subject},
    {"ccert_issuer", &PolicyRequest::ccert_issuer},
    {"ccert_fingerprint", &PolicyRequest::ccert_fingerprint},
    {"ccert_pubkey_fingerprint", &PolicyRequest::ccert_pubkey_fingerprint},
    {"encryption_protocol", &PolicyRequest::encryption_protocol},
    {"encryption_cipher", &PolicyRequest::encryption_cipher},
    {"encryption_keysize", &PolicyRequest::encryption_keysize},
    {"etrn_domain", &PolicyRequest::etrn_domain},
    {"stress", &PolicyRequest::stress},
    {"server_address", &PolicyRequest::server_address},
    {"server_port", &PolicyRequest::server_port},
    {"policy_context", &PolicyRequest::policy_context},
    {"compatibility_level", &PolicyRequest::compatibility_level},
    {"mail_version", &PolicyRequest::mail_version},
};

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) n = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) n = 2, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) n = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) n = 3, hi = 0x8F;
        else return false;
        if (s.size() - i - 1 < n) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto d = static_cast<unsigned char>(s[i + k]);
            if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return false;
        }
        i += n + 1;
    }
    return true;
}

// An empty number is 0 (Postfix sends size=0 before DATA); anything but digits is malformed.
bool parse_count(std::string_view s, std::uint64_t& out) {
    out = 0;
    if (s.empty()) return true;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<Stage> parse_stage(std::string_view s) {
    if (s == "CONNECT") return Stage::connect;
    if (s == "EHLO" || s == "HELO") return Stage::helo;
    if (s == "MAIL") return Stage::mail;
    if (s == "RCPT") return Stage::rcpt;
    if (s == "DATA") return Stage::data;
    if (s == "END-OF-MESSAGE") return Stage::end_of_message;
    if (s == "VRFY" || s == "ETRN") return Stage::unknown;
    return std::nullopt;
}

Transaction to_transaction(const PolicyRequest& r) {
    Transaction t;
    t.stage = parse_stage(r.protocol_state).value_or(Stage::unknown);
    t.client = IpAddr::parse(r.client_address);  // "unknown", names, junk: nullopt
    t.client_address = r.client_address;
    t.client_name = r.client_name;
    t.helo = r.helo_name;
    t.sender = r.sender;
    t.recipient = r.recipient;
    t.sasl_username = r.sasl_username;
    t.queue_id = r.queue_id;
    std::uint64_t n = 0;
    if (parse_count(r.size, n)) t.size = n;
    if (parse_count(r.recipient_count, n))
        t.recipient_count = n > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<unsigned>(n);
    t.instance = r.instance;
    return t;
}

PolicyRequestParser::Step PolicyRequestParser::fail(std::size_t consumed, std::string why) {
    malformed_ = true;
    error_ = std::move(why);
    return {Status::malformed, consumed};
}

PolicyRequestParser::Step PolicyRequestParser::feed(std::string_view data) {
    if (malformed_) return {Status::malformed, 0};
    if (complete_) return {Status::complete, 0};
    for (std::size_t i = 0; i < data.size(); ++i) {
        const char c = data[i];
        if (++request_bytes_ > kMaxRequest)
            return fail(i + 1, "request over " + std::to_string(kMaxRequest) + " bytes");
        if (c == '\0')
            return fail(i + 1, "NUL byte in line " + quoted(line_, kShown));
        if (cr_ && c != '\n')
            return fail(i + 1, "bare CR in line " + quoted(line_, kShown));
        if (c == '\r') {
            cr_ = true;
            continue;
        }
        if (c == '\n') {
            cr_ = false;
            std::string why;
            if (line_.empty()) {
                if (!finish_request(&why)) return fail(i + 1, std::move(why));
                complete_ = true;
                return {Status::complete, i + 1};
            }
            if (!end_line(&why)) return fail(i + 1, std::move(why));
            continue;
        }
        if (line_.size() >= kMaxLine)
            return fail(i + 1, "line over " + std::to_string(kMaxLine) + " bytes: " +
                                   quoted(line_, kShown));
        line_.push_back(c);
    }
    return {Status::need_more, data.size()};
}

bool PolicyRequestParser::end_line(std::string* why) {
    if (++req_.attributes > kMaxAttributes) {
        *why = "more than " + std::to_string(kMaxAttributes) + " attributes";
        return false;
    }
    const auto eq = line_.find('=');
    if (eq == std::string::npos) {
        *why = "line without '=': " + quoted(line_, kShown);
        return false;
    }
    const std::string_view name(line_.data(), eq);
    if (name.empty()) {
        *why = "empty attribute name: " + quoted(line_, kShown);
        return false;
    }
    for (char c : name)
        if (!name_char(c)) {
            *why = "bad attribute name: " + quoted(name, kShown);
            return false;
        }
    for (const auto& k : kKnown)
        if (k.name == name) {
            req_.*k.field = line_.substr(eq + 1);  // a duplicate replaces: last wins
            break;
        }
    line_.clear();
    return true;
}

bool PolicyRequestParser::finish_request(std::string* why) {
    if (req_.attributes == 0) {
        *why = "empty request";
        return false;
    }
    if (req_.request.empty()) {
        *why = "no request= attribute";
        return false;
    }
    if (req_.request != "smtpd_access_policy") {
        *why = "unknown request type " + quoted(req_.request, kShown);
        return false;
    }
    if (!parse_stage(req_.protocol_state)) {
        *why = req_.protocol_state.empty()
                   ? std::string("no protocol_state= attribute")
                   : "unknown protocol_state " + quoted(req_.protocol_state, kShown);
        return false;
    }
    if (!valid_utf8(req_.sender)) {
        *why = "sender is not UTF-8: " + quoted(req_.sender, kShown);
        return false;
    }
    if (!valid_utf8(req_.recipient)) {
        *why = "recipient is not UTF-8: " + quoted(req_.recipient, kShown);
        return false;
    }
    std::uint64_t n = 0;
    if (!parse_count(req_.size, n)) {
        *why = "size is not a number: " + quoted(req_.size, kShown);
        return false;
    }
    if (!parse_count(req_.recipient_count, n)) {
        *why = "recipient_count is not a number: " + quoted(req_.recipient_count, kShown);
        return false;
    }
    return true;
}

PolicyRequest PolicyRequestParser::take() {
    PolicyRequest out = std::move(req_);
    req_ = PolicyRequest{};
    line_.clear();
    cr_ = false;
    request_bytes_ = 0;
    complete_ = false;
    return out;
}

}  // namespace mpp::policy
