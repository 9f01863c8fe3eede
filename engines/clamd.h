// engines/clamd.h: the ClamAV clamd client (<clamd>): the message streamed with INSTREAM, and
// PING for a circuit breaker's probe.
//
// Owns: a copy of its <clamd> config; no per-call state, so scan() and ping() run on several
// threads at once, each call with a connection of its own (engines/engine_socket.h).
// Wire format (clamd's "z" commands: NUL-terminated command and answer):
//   scan:  "zINSTREAM\0", then chunks of <4-byte big-endian length><data> (at most kChunk
//          bytes each, streamed from the reader, never the whole message in memory), then a
//          zero-length chunk; clamd answers "stream: OK\0" or "stream: NAME FOUND\0", or
//          "INSTREAM size limit exceeded. ERROR\0" past its StreamMaxLength (it may close the
//          connection while chunks are still being written: the answer is read all the same).
//   ping:  "zPING\0" answered by "PONG\0".
// Result: clean on OK; virus on FOUND with the name as detail (cut to kMaxDetail bytes);
// limits on FOUND when the name starts with "Heuristics.Limits" (clamd's AlertExceedsMax
// names, "Heuristics.Limits.Exceeded.MaxFileSize"), the name as detail.
// Failures (status error, detail says which): no connection, a timeout (each step bounded by
// the deadline), any "... ERROR" answer (its text is the detail), an answer that is empty,
// unknown, lacks its NUL or exceeds kMaxAnswer bytes (RELIABILITY F7, B20); a reader that
// fails or yields more than max-size (cfg.max_size 0: no such bound). Nothing is logged here:
// the caller logs the result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "engines/scanner.h"
#include "lib/config_types.h"

namespace mpp::engines {

class ClamdEngine final : public Engine {
public:
    static constexpr std::size_t kChunk = 64 * 1024;  // bytes of message per INSTREAM chunk
    static constexpr std::size_t kMaxAnswer = 4096;   // bytes of an answer read at most
    static constexpr std::size_t kMaxDetail = 200;    // bytes of a virus name or error kept

    explicit ClamdEngine(config::ClamdCfg cfg) : cfg_(std::move(cfg)) {}

    const std::string& name() const override { return cfg_.name; }
    EngineResult scan(const ScanMessage& msg, Deadline deadline) override;

    // zPING answered by PONG: clamd is up. False with *error.
    bool ping(Deadline deadline, std::string* error) const;

    const config::ClamdCfg& config() const { return cfg_; }

private:
    config::ClamdCfg cfg_;
};

// What clamd's answer to INSTREAM (without its NUL) means: status clean, virus, limits or
// error, and the detail.
struct ClamdAnswer {
    EngineResult::Status status = EngineResult::Status::error;
    std::string detail;
};
ClamdAnswer parse_clamd_answer(std::string_view answer);

}  // namespace mpp::engines
