// policy/verdict.h: the answer of the SMTP-level checks for one recipient (or one stage).
//
// Front ends map it to their protocol: the policy server to `action=...` lines
// (DUNNO/OK, DEFER_IF_PERMIT, DEFER, REJECT, PREPEND), the milter to smfi_setreply +
// SMFIS_TEMPFAIL/REJECT for that recipient.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mpp::policy {

enum class Action {
    none,             // nothing applies: DUNNO (or OK in standalone mode)
    accept,           // a whitelist or allow rule says yes: OK
    greylist,         // DEFER_IF_PERMIT 450 4.7.1 ...: later restrictions may still reject
    defer,            // DEFER 451 4.7.1 ...
    reject,           // REJECT 550 5.7.1 ...
};

// "none", "accept", "greylist", "defer", "reject": as log lines and mppctl print it.
std::string_view action_name(Action);

// Whether `dsn` is an enhanced status code of class digit `cls` ('4' or '5'): c.ddd.ddd
// ("4.7.1"). Both front ends replace a DSN of the wrong shape or class by their default.
bool valid_dsn(std::string_view dsn, char cls);

struct Verdict {
    Action action = Action::none;
    int code = 0;                  // SMTP code for greylist/defer/reject (450/451/550...)
    std::string dsn;               // enhanced status code (4.7.1, 5.7.1)
    std::string text;              // expanded reply text; lines of a multi-line reply separated
                                   // by '\n' (the policy server joins them with a space)
    std::string check;             // which check decided: "greylist", "spamtrap", "threshold:NAME"
    std::string reason;            // why, for the log line and %REASON%
    std::vector<std::string> prepend;  // "X-MPP-Greylist: delayed 312 seconds" ...
    bool shadow = false;           // decided by a shadow-mode rule: logged, not enforced
    bool quarantine = false;       // the content stage should quarantine the message
                                   // (threshold action="quarantine"); the action stays none
    double score = 0;              // RBL score of the recipient's group (policy/rbl.h), for
                                   // the content stage's <score>
    std::string checks;            // the listings behind it: "rbl:zen(6) rbl:sorbs(2)"
};

}  // namespace mpp::policy
