// policy/transaction.h: what the SMTP-level checks see of one SMTP transaction, whichever front
// end saw it (the Postfix policy server fills it from a policy request, the milter from its
// callbacks and macros). One check pipeline reads this view; no check is written twice.
//
// Strings are as the MTA sent them (already bounded by the front end's limits); the checks
// normalise (lower-case domains, strip BATV/SRS/+ext) where their rule says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/cidr.h"

namespace mpp::policy {

// The SMTP stage a question is asked at (Postfix's protocol_state).
enum class Stage { connect, helo, mail, rcpt, data, end_of_message, unknown };

struct Transaction {
    Stage stage = Stage::rcpt;
    std::optional<IpAddr> client;   // nullopt: "unknown" or a non-IP (local) client
    std::string client_address;     // as sent (for logs): "192.0.2.1", "unknown"
    std::string client_name;        // verified reverse name, "unknown" when none
    std::string helo;
    std::string sender;             // envelope sender without <>; "" is the null sender
    std::string recipient;          // the recipient this question is about ("" before RCPT)
    std::string sasl_username;      // "" when not authenticated
    std::string queue_id;           // "" when the MTA has none yet
    std::uint64_t size = 0;         // message size as declared or seen; 0 unknown
    unsigned recipient_count = 0;   // at DATA / END-OF-MESSAGE
    std::string instance;           // Postfix's per-transaction id (policy protocol)
    std::string subject;            // END-OF-MESSAGE, milter: the Subject, RFC 2047 decoded
                                    // to UTF-8; "" when none (policy/subject_key.h)
};

}  // namespace mpp::policy
