// policy/spamtrap.h: spam traps: PCRE2 patterns over the recipient; a client that sends to a
// trap address has that recipient rejected and is blocked (policy/blocklist.h) for block-for,
// in the trap's group (scope="group") or in every group (scope="global").
//
// Owns: nothing; the blocks live in the Blocklist the caller passes. Thread-safe as that is.
// Semantics: the traps of a group are tried in file order; the first whose pattern matches the
// recipient ("local@domain", <> stripped; caseless unless the pattern says (?-i)) and whose
// exempt lists match neither the client, the sender nor the recipient is the hit. A matching
// but exempt trap is reported (for logs and explain) and never blocks. A client that is not an
// IP address cannot be blocked: the recipient is still rejected.
// Limits: regex limits of <limits>; a limit hit is no match plus a warning.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "lib/config.h"
#include "policy/blocklist.h"
#include "policy/transaction.h"

namespace mpp::policy {

struct TrapHit {
    std::size_t index = 0;  // in GroupCfg::spamtraps
    const config::SpamtrapCfg* trap = nullptr;
};

struct TrapCheck {
    std::optional<TrapHit> hit;
    std::string exempted;  // a trap matched but an exempt list did: "relays(client)"
};

TrapCheck check_spamtraps(const config::Config&, const config::GroupCfg&, const Transaction&);

// The blocklist scope a trap blocks in: "" (global) or the group's name.
std::string trap_scope(const config::SpamtrapCfg&, const config::GroupCfg&);

// Blocks the transaction's client for the trap's block-for in its scope.
void spring_trap(Blocklist&, const config::SpamtrapCfg&, const config::GroupCfg&,
                 const Transaction&);

}  // namespace mpp::policy
