// milter/policy_verbs.h: the control-socket verbs of the SMTP-level checks (policy/checks.h):
//   greylist list [LIMIT] | show KEY | delete KEY | flush | key CLIENT SENDER RECIPIENT
//   blacklist list [LIMIT] | add IP [DURATION] [GROUP] | delete IP [GROUP]
//   thresholds [LIMIT]
//   shadow                 the shadow-mode counters ("shadow GROUP/CHECK: N")
//   explain --client IP [--helo H] --from A --rcpt B [--rcpt C ...] [--sasl U]
// (docs/mppctl.8 describes each verb and its output).
//
// Owns: nothing but the verb table it hands to the ControlServer; the handlers keep a reference
// to the Checks, which must outlive the control server's use of them (the daemon resets the
// control server before the checks).
// Threads: the handlers run on the main event loop (ControlServer); the tables they read and
// edit are thread-safe (policy/*.h), so the policy server and libmilter workers go on meanwhile.
// Limits: every listing is bounded: kDefaultListLimit lines unless a LIMIT is given
// (thresholds: kDefaultThresholdLimit), never more than kMaxLimit; explain takes at most
// kMaxRecipients recipients. A bad argument gets ERR with the verb's usage.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "milter/control_server.h"
#include "policy/checks.h"

namespace mpp::milter {

inline constexpr std::size_t kDefaultListLimit = 1000;
inline constexpr std::size_t kDefaultThresholdLimit = 100;
inline constexpr std::size_t kMaxLimit = 100000;
inline constexpr std::size_t kMaxRecipients = 50;

struct PolicyVerb {
    std::string verb;
    std::string usage;  // one line for `help`
    ControlServer::Handler handler;
};

// The verbs over `checks` (also what the unit tests call directly).
std::vector<PolicyVerb> policy_verbs(policy::Checks& checks);

// Adds policy_verbs(checks) to `server`.
void register_policy_verbs(ControlServer& server, policy::Checks& checks);

}  // namespace mpp::milter
