// policy/lists.h: matching named lists (<list>) and the address/network matchers of <match>,
// <allow>, <deny> and `exempt` attributes against one Transaction.
//
// Owns: nothing; pure functions over an immutable config snapshot. Thread-safe: called from the
// policy event loop and libmilter worker threads at once.
// Semantics (docs/mppd.conf.xml.5, VALUE TYPES):
//   - cidr lists match the client address (IPv4-mapped clients match IPv4 networks); a client
//     that is not an IP address ("unknown", local) matches no network.
//   - address lists match whole addresses with lib/address.h patterns; domain lists match the
//     address's domain ("example.com" exactly, "*.example.com" its subdomains only); regex lists
//     match the whole address text "local@domain" ("" for the null sender).
//   - matching of addresses and domains is ASCII case-insensitive; regexes are caseless unless
//     the pattern says (?-i).
//   - `exempt` lists: a cidr list matches the client; address, domain and regex lists match the
//     sender or the recipient being asked about.
// Limits: regexes run under the <limits> regex limits; a limit hit counts as no match and logs
// one warning (RELIABILITY B16). Text that is not an address matches no address pattern.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/address.h"
#include "lib/cidr.h"
#include "lib/config.h"
#include "lib/regex.h"
#include "policy/transaction.h"

namespace mpp::policy {

// The regex limits of a snapshot's <limits> (0 there: the lib/regex.h default).
MatchLimits match_limits(const config::Config&);

// A sender or recipient as the lists see it: parsed, or nullopt for text that is no address.
std::optional<Address> parse_address(std::string_view text);

// One list against one subject. A list of another type than the subject takes never matches
// (a cidr list never matches an address, an address list never matches a client).
bool list_matches_client(const config::ListCfg&, const std::optional<IpAddr>& client);
bool list_matches_address(const config::ListCfg&, const std::optional<Address>&,
                          const MatchLimits&);
// Domain lists, and address lists through their domain-only patterns.
bool list_matches_domain(const config::ListCfg&, std::string_view domain, const MatchLimits&);

// The matchers of <match>/<allow>/<deny>: patterns OR lists.
bool address_matches(const config::Config&, const config::AddressMatch&,
                     const std::optional<Address>&);
bool domain_matches(const config::Config&, const config::AddressMatch&,
                    const std::optional<Address>&);
bool net_matches(const config::Config&, const config::NetMatch&,
                 const std::optional<IpAddr>& client);

// An `exempt` attribute against a transaction. On a match, `which` (when given) receives a
// short description for traces and logs: "relays(client)", "vips(recipient)".
bool exempt(const config::Config&, const std::vector<config::Ref>& lists, const Transaction&,
            std::string* which = nullptr);

}  // namespace mpp::policy
