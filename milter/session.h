// milter/session.h: what mppd knows about one milter connection (Session) and the message in
// it (Message).
//
// Ownership: a Session is created at negotiation (or connect, when the MTA skips negotiation),
// attached to the libmilter context with smfi_setpriv and owned by it until close, which
// takes it back into a unique_ptr (also when close comes without connect). The Message is a
// unique_ptr inside the Session: created at MAIL FROM, destroyed at end-of-message, at abort
// (libmilter contract: abort resets only the message; several messages may follow on one
// connection) and with the Session. No raw owner anywhere.
// Threads: a Session is only touched by the libmilter worker that runs its connection's
// current callback (libmilter serialises the callbacks of one connection).
// Snapshot: the session pins the configuration snapshot of its start, and decides then whether
// the milter runs the SMTP-level checks for it (<milter checks>): a reload never changes the
// rules under a connection in flight.
// Bounds: Message::headers (what the checks asked to add) holds at most kMaxAddedHeaders, one
// per header name; Message::recipients at most kMaxRecipients (with the content stage the
// milter answers 452 4.5.3 to one more; without it the rest are only counted). The content stage's MessageBuffer (Session::content) lives in the Message, so
// it is freed (its temp file with it) at end-of-message, abort and close.
#pragma once

#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/config.h"
#include "milter/message_buffer.h"

namespace mpp::milter {

struct Message {
    static constexpr std::size_t kMaxAddedHeaders = 16;
    static constexpr std::size_t kMaxRecipients = 10000;

    std::string id;             // mppd's id of this transaction (Transaction::instance)
    std::string queue_id;       // {i}; Postfix knows it from the first accepted RCPT on
    std::string sender;         // envelope sender without <>, "" for the null sender
    std::string sasl_username;  // {auth_authen} at MAIL FROM; "" when not authenticated
    std::uint64_t declared_size = 0;  // MAIL FROM's SIZE= parameter; 0 when none
    unsigned accepted = 0;      // recipients this filter let through
    unsigned refused = 0;       // recipients this filter answered 4xx/5xx
    unsigned removed = 0;       // accepted ones removed at end-of-message (smfi_delrcpt)
    std::uint64_t size = 0;     // header and body bytes seen
    std::vector<std::string> headers;  // "Name: value" to add at end-of-message, in order
    std::vector<std::string> recipients;  // accepted ones, without <>, in RCPT order
    // Per accepted recipient (same index): the RBL score and listings the checks gave it at
    // RCPT (policy::Verdict::score, ::checks), for the content stage's <score>.
    struct RblScore {
        double score = 0;
        std::string checks;
    };
    std::vector<RblScore> rbl;
    std::optional<MessageBuffer> buffer;  // header fields and body (Session::content only)
    std::string groups;  // for the summary line: the recipients' groups ("sales,default")
    std::string checks;  // for the summary line: what decided or scored at end-of-message
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // Keeps `header` ("Name: value") unless one of that name is kept already or the bound is
    // reached. False when it was dropped.
    bool add_header(const std::string& header);
};

struct Session {
    std::shared_ptr<const config::Config> config;
    bool checks = false;        // this connection runs the SMTP-level checks at RCPT
    bool content = false;       // it keeps header and body (MessageBuffer) for end-of-message
    bool eom_checks = false;    // it asks the engine at end-of-message (thresholds counting
                                // recipients, size or subject)
    unsigned long actions = 0;  // SMFIF_* agreed at negotiation
    unsigned long protocol = 0; // SMFIP_* agreed at negotiation
    bool connected = false;     // connect was seen
    std::string client_name;    // reverse name as the MTA reports it ("unknown" when none)
    std::string client_addr;    // address text, "" for a local (non-IP) connection
    std::string helo;
    std::string mta_name;       // j: the MTA's host name
    std::string daemon_name;    // {daemon_name}
    std::string if_addr;        // {if_addr}: the address the client connected to
    std::unique_ptr<Message> message;  // between MAIL FROM and end-of-message/abort

    std::string client() const {
        return client_name + "[" + (client_addr.empty() ? "unknown" : client_addr) + "]";
    }
};

inline bool Message::add_header(const std::string& header) {
    const auto colon = header.find(':');
    if (colon == std::string::npos || headers.size() >= kMaxAddedHeaders) return false;
    auto same_name = [&](const std::string& h) {
        if (h.size() <= colon || h[colon] != ':') return false;
        for (std::size_t i = 0; i < colon; ++i)
            if (std::tolower(static_cast<unsigned char>(h[i])) !=
                std::tolower(static_cast<unsigned char>(header[i])))
                return false;
        return true;
    };
    for (const auto& h : headers)
        if (same_name(h)) return false;
    headers.push_back(header);
    return true;
}

}  // namespace mpp::milter
