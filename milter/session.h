// milter/session.h: what mppd knows about one milter connection and the message in it.
//
// A Session is created at negotiation (or connect), attached to the libmilter context with smfi_setpriv, and
// destroyed at close (or with the connection when close comes without connect). The message
// part is reset at end-of-message and at abort (libmilter contract: abort resets only the
// message; several messages may follow on one connection). The session pins the configuration
// snapshot of its connect: a reload never changes the rules under a transaction in flight.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "lib/config.h"

namespace mpp::milter {

struct Message {
    std::string queue_id;     // {i}; may only be known at end-of-message
    std::string sender;       // envelope sender without <>, "" for the null sender
    unsigned recipients = 0;
    std::uint64_t size = 0;   // header and body bytes seen
    std::chrono::steady_clock::time_point started{};
};

struct Session {
    std::shared_ptr<const config::Config> config;
    std::string client_name;  // reverse name as the MTA reports it ("unknown" when none)
    std::string client_addr;  // address text, "" for a local (non-IP) connection
    std::string helo;
    unsigned long protocol = 0;  // SMFIP_* flags agreed at negotiation
    Message message;

    std::string client() const { return client_name + "[" + client_addr + "]"; }
    void reset_message() { message = Message{}; }
};

}  // namespace mpp::milter
