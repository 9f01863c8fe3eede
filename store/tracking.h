// store/tracking.h: one message-tracking record: a compact summary of one message mppd decided
// on (the seeds' "message tracking": message id, relay IP, each scanner's score, result, parse
// result), kept for "why did this happen last Tuesday" after the configuration changed.
//
// Owns: plain data; no handles. Threads: value type.
// Detail: <store tracking="basic"> fills the envelope, size, verdict, groups and revision and
// leaves scores, rbl_hits, checks and timings empty; "full" fills them all. The writer stores
// what it is given. Identity: `uuid` makes a write idempotent, as for Entry.
#pragma once

#include <cstdint>
#include <string>

namespace mpp::store {

struct TrackingRecord {
    std::string uuid;  // RFC 4122 version 4, lower-case text
    std::int64_t received = 0;  // Unix time (seconds)
    std::string queue_id;
    std::string message_id;
    std::string client_ip;
    std::string client_name;
    std::string helo;
    std::string sender;  // envelope sender; "" for the null sender
    std::uint32_t rcpt_count = 0;
    std::uint64_t size = 0;
    double score = 0;
    std::string scores;  // each scanner's result: "sa=7.3 clam=clean"
    std::string rbl_hits;  // "zen(6) bl.example(2)"
    std::string checks;  // as in the summary log line's checks=
    std::string verdict;  // "accept", "reject", "quarantine", "tag", ...
    std::string parse_result;  // "ok", "mime-depth", "header-limit", ...
    std::string timings;  // milliseconds per stage: "eom=812 sa=640 clam=35"
    std::uint32_t elapsed_ms = 0;  // connect to decision
    std::string groups;  // the recipients' policy groups, space-separated
    std::string config_revision;
};

}  // namespace mpp::store
