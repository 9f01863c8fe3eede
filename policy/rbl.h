// policy/rbl.h: DNS block lists (DNSBL, DNSWL with a negative score, RHSBL on the HELO name or
// the sender's domain) for one recipient's group: which names to ask, what an answer means, and
// the group's sum of scores against its reject-at.
//
// Query names: an IPv4 client 192.0.2.5 asks 5.2.0.192.ZONE; an IPv6 client asks its 32 nibbles
// in reverse (b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ZONE); a domain
// (HELO, sender domain) asks DOMAIN.ZONE, lower-cased. A HELO that is an address literal or has
// no dot, a null sender, an unknown client: nothing to ask.
// Answers: an A record in the <rbl answers> networks is a listing. 127.255.255.0/24 is how
// public lists say "query refused" (typically to a big public resolver): never a listing, and
// logged as a warning at most once per zone per hour. NXDOMAIN is "not listed"; a timeout, a
// server failure or a busy resolver is "not listed" too (fail open, logged at debug, counted in
// the metric rbl-errors): a DNS outage must not refuse mail.
// Groups: each <rbl use> line sums the scores of its RBLs that list the client and, at or
// above its reject-at, refuses the recipient (condition rbl; %REASON% is the TXT record of the
// first listing RBL of that line when it has one, else "listed by ZONE (ANSWER)"). Lines without
// reject-at, or below it, only score: the sum over the distinct listing RBLs of the group is the
// Verdict's score, the listings its checks ("rbl:zen(6) rbl:sorbs(2)"), for the content stage.
// An `exempt` list that matches the transaction skips that line's lookups.
// DNS: through the Lookup seam (the daemon: lib/dns.h Resolver::lookup_all). All A queries of
// the group go out at once; the wait is the longest per-RBL timeout (<rbl timeout>, else <dns
// timeout>). A TXT query follows only for a refusal, within the same timeout again.
// Threads: RblChecker is thread-safe (the refusal log is under a mutex; bounded by the zones).
// Known limit: the caller blocks until the answers or the timeout; the policy server calls the
// engine on its loop threads, so a slow DNS server stalls the other connections of that loop
// for up to the timeout.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/cidr.h"
#include "lib/clock.h"
#include "lib/config.h"
#include "lib/dns.h"
#include "policy/transaction.h"

namespace mpp::policy {

// The reversed-address query name of `client` in `zone`.
std::string rbl_client_name(const IpAddr& client, std::string_view zone);
// DOMAIN.ZONE for a domain-based list; nullopt when there is no usable domain.
std::optional<std::string> rbl_domain_name(std::string_view domain, std::string_view zone);
// The name to ask `rbl` for this transaction, or nullopt.
std::optional<std::string> rbl_query_name(const config::RblCfg& rbl, const Transaction& t);

enum class RblMatch { none, listed, refused };
// What an A answer means for `rbl`; `code` receives the listing (or refusing) answer.
RblMatch rbl_match(const config::Config&, const config::RblCfg&,
                   const std::vector<std::string>& a_records, std::string* code);

struct RblListing {
    std::string rbl;   // <rbl name>
    std::string zone;
    std::string code;  // the A answer: 127.0.0.2
    double score = 0;
};

struct RblStep {  // one line of `mppctl explain`
    std::string check;   // "rbl:zen"
    std::string result;  // "hit", "pass", "exempt", "skip", "error"
    std::string detail;
};

struct RblOutcome {
    bool reject = false;
    std::string reason;      // for a refusal: the TXT reason or "listed by ZONE (CODE)"
    double score = 0;        // sum over the distinct listing RBLs of the group
    std::string checks;      // "rbl:zen(6) rbl:sorbs(2)"
    std::vector<RblListing> listings;
    std::vector<RblStep> steps;
};

// Answers `questions` within `wait` (lib/dns.h Resolver::lookup_all).
using RblLookup = std::function<std::vector<dns::Answer>(const std::vector<dns::Question>&,
                                                         std::chrono::milliseconds wait)>;

class RblChecker {
public:
    RblChecker(RblLookup lookup, Clock& clock) : lookup_(std::move(lookup)), clock_(clock) {}
    // The group's <rbl use> lines for transaction t.
    RblOutcome check(const config::Config&, const config::GroupCfg&, const Transaction&);

private:
    void refused(const std::string& zone, const std::string& code);

    RblLookup lookup_;
    Clock& clock_;
    std::mutex mutex_;
    std::map<std::string, std::chrono::steady_clock::time_point> refusal_logged_;
};

}  // namespace mpp::policy
