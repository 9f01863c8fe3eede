// store/release.h: releasing a stored message: the original message, with its original
// envelope sender, handed back to the MTA for the recipients it was stored for (or one address
// given instead), marked with an "X-MPP-Released: UUID" header line put before it.
//
// Works over any store::Query (maildir or MariaDB). Submission is lib/mail_submit: the
// sendmail program (`PROGRAM -i -f SENDER -- RCPT...` by posix_spawn, no shell) or SMTP to a
// relay, each bounded by `timeout`. Only after the MTA took the message are the recipients
// marked released in the store.
// Recipients: those named (each must be a recipient of the entry, compared ASCII
// case-insensitively), else every recipient not released yet (all released already: an error
// asking to name one). With `to`, the message goes to that one address instead, and the
// chosen recipients are marked released.
// The mark: mppd would otherwise quarantine the released message again when it passes the
// milter; the milter recognises "X-MPP-Released: UUID" only for a uuid the store released
// recently (store::Store::released), so a sender can't use the header to skip the checks.
// Limits: a message over max_size bytes is refused (it would be held in memory).
// Threads: any; the Query's own rules apply. Failures: ReleaseResult::error, one line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "store/query.h"

namespace mpp::store {

struct ReleaseSettings {
    std::string sendmail = "/usr/sbin/sendmail";  // used when relay is empty
    std::string relay;                            // HOST:PORT, [V6]:PORT or unix:/path
    std::chrono::milliseconds timeout{20000};
    std::uint64_t max_size = 256ULL * 1024 * 1024;
};

struct ReleaseRequest {
    std::string uuid;
    std::vector<std::string> recipients;  // empty: those not released yet
    std::string to;                       // "": the recipients themselves
};

struct ReleaseResult {
    std::string error;                  // empty: released
    std::vector<std::string> released;  // the entry's recipients now marked released
    std::vector<std::string> sent_to;   // the envelope recipients used
    std::string via;                    // "sendmail /usr/sbin/sendmail", "smtp 127.0.0.1:25"
    bool ok() const { return error.empty(); }
};

ReleaseResult release(Query& store, const ReleaseRequest& request,
                      const ReleaseSettings& settings);

}  // namespace mpp::store
