// policy/groups.h: direction of a transaction and the policy group of a recipient.
//
// Owns: nothing; pure functions over an immutable config snapshot. Thread-safe: called from the
// policy event loop and libmilter worker threads at once.
// Semantics (docs/mppd.conf.xml.5, POLICY GROUPS):
//   - direction: outbound when the client is on a <networks internal> network, or has a SASL
//     login and authenticated-outbound is yes; inbound otherwise (also for a client that is not
//     an IP address and has no login).
//   - a <match>/<allow>/<deny> rule matches when every attribute given matches (AND); an
//     attribute's entries are alternatives (OR); an empty rule matches everything.
//   - a recipient belongs to the first group in file order one of whose <match> rules matches;
//     else to "default" (always last in the snapshot). Exactly one group per recipient.
// Limits: as lists.h (regex limits; a limit hit is no match).
#pragma once

#include "lib/config.h"
#include "policy/transaction.h"

namespace mpp::policy {

// Never Direction::any.
config::Direction direction_of(const config::Config&, const Transaction&);

// One <match>/<allow>/<deny> rule, given the transaction's direction.
bool rule_matches(const config::Config&, const config::MatchCfg&, const Transaction&,
                  config::Direction direction);

// The index of the first rule of `rules` that matches, or -1.
int first_match(const config::Config&, const std::vector<config::MatchCfg>&, const Transaction&,
                config::Direction direction);

// The group of t.recipient: a reference into the snapshot, valid while it lives.
const config::GroupCfg& resolve_group(const config::Config&, const Transaction&,
                                      config::Direction direction);

// "inbound", "outbound", "any".
const char* direction_name(config::Direction);

}  // namespace mpp::policy
