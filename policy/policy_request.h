// policy/policy_request.h: one Postfix policy-delegation request (SMTPD_POLICY_README), its
// incremental parser, and its mapping to a policy::Transaction.
//
// Owns no shared state; one parser per connection, used on the thread of that connection's
// event loop (the daemon's main loop). Pure code: no I/O, no clock, no logging.
// Wire format: `name=value` lines ending in LF or CRLF (both accepted, also mixed; CR is allowed
// only right before LF), one empty line ends the request; several requests may follow one
// another on a connection. The value is everything after the first '='.
// Limits (RELIABILITY B3): a line over kMaxLine bytes (its terminator not counted), more than
// kMaxAttributes attribute lines, or a request over kMaxRequest bytes (terminators counted) is
// malformed the moment the limit is passed, without buffering the rest.
// Malformed (B1, B2, B5), each with an error text quoting the offending input escaped and cut:
// a line without '=', an empty name or one with characters other than [A-Za-z0-9_.-], a NUL
// byte, a bare CR, sender or recipient that is not valid UTF-8 (Postfix sends UTF-8 with
// SMTPUTF8 and ASCII without; anything else is not Postfix talking), a non-decimal size or
// recipient_count, a missing or other `request=` than smtpd_access_policy, a missing or unknown
// `protocol_state`. Duplicate attributes: the last one wins (B6). Unknown attributes are
// ignored, as Postfix asks, but count towards the limits.
// Failures map to: the server logs the error, sends no reply and closes the connection, so
// Postfix applies its smtpd_policy_service_default_action.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/transaction.h"

namespace mpp::policy {

// The attributes of a request that mpp uses or logs (Postfix 3.x names).
struct PolicyRequest {
    std::string request;           // "smtpd_access_policy"
    std::string protocol_state;    // CONNECT EHLO HELO MAIL RCPT DATA END-OF-MESSAGE VRFY ETRN
    std::string protocol_name;     // SMTP ESMTP
    std::string helo_name;
    std::string queue_id;
    std::string sender;
    std::string recipient;
    std::string recipient_count;
    std::string client_address;
    std::string client_name;
    std::string client_port;
    std::string reverse_client_name;
    std::string instance;
    std::string sasl_method;
    std::string sasl_username;
    std::string sasl_sender;
    std::string size;
    std::string ccert_subject;
    std::string ccert_issuer;
    std::string ccert_fingerprint;
    std::string ccert_pubkey_fingerprint;
    std::string encryption_protocol;
    std::string encryption_cipher;
    std::string encryption_keysize;
    std::string etrn_domain;
    std::string stress;
    std::string server_address;
    std::string server_port;
    std::string policy_context;
    std::string compatibility_level;
    std::string mail_version;
    std::size_t attributes = 0;    // attribute lines seen, unknown and duplicates included
};

// Maps protocol_state to a Stage; nullopt for a state Postfix does not send. VRFY and ETRN
// (which Postfix does send) map to Stage::unknown.
std::optional<Stage> parse_stage(std::string_view protocol_state);

// The checks' view of a valid request. client_address "unknown" or anything that is not an IP
// address gives client = nullopt (client_address keeps the text); sizes are already validated.
Transaction to_transaction(const PolicyRequest&);

class PolicyRequestParser {
public:
    static constexpr std::size_t kMaxLine = 8192;
    static constexpr std::size_t kMaxAttributes = 128;
    static constexpr std::size_t kMaxRequest = 64 * 1024;

    enum class Status { need_more, complete, malformed };
    struct Step {
        Status status = Status::need_more;
        std::size_t consumed = 0;  // bytes of the input used; the rest belongs to the next request
    };

    // Consumes bytes up to the end of the current request. complete: take() the request; the
    // bytes after `consumed` start the next one. malformed: error() says why; the parser stays
    // malformed (the connection must be closed). need_more: every byte was consumed.
    Step feed(std::string_view data);

    // The completed request; resets the parser for the next one.
    PolicyRequest take();

    const std::string& error() const { return error_; }
    // Whether part of a request has arrived (the request deadline runs).
    bool in_request() const { return request_bytes_ > 0; }

private:
    Step fail(std::size_t consumed, std::string why);
    bool end_line(std::string* why);     // one complete line in line_; false: malformed
    bool finish_request(std::string* why);

    PolicyRequest req_;
    std::string line_;             // the current line so far, without its terminator
    bool cr_ = false;              // the last byte was a CR
    std::size_t request_bytes_ = 0;
    bool malformed_ = false;
    bool complete_ = false;
    std::string error_;
};

}  // namespace mpp::policy
