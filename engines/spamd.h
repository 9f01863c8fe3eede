// engines/spamd.h: the SpamAssassin spamd client (<spamd>): one SPAMC/1.5 SYMBOLS call per
// message, giving spamd's verdict, score, required score and the rules that hit.
//
// Owns: a copy of its <spamd> config; no per-call state, so scan() and ping() run on several
// threads at once, each call with a connection of its own (engines/engine_socket.h).
// Wire format (spamc's protocol, version 1.5):
//   request:  "SYMBOLS SPAMC/1.5\r\n" "Content-length: N\r\n" ["User: NAME\r\n"] "\r\n" MESSAGE
//   answer:   "SPAMD/1.1 0 EX_OK\r\n" "Content-length: N\r\n" "Spam: True ; 1002.5 / 5.0\r\n"
//             "\r\n" "GTUBE,MISSING_DATE"
// The message is read whole into memory first (Content-length must be exact; the reader may
// yield more than ScanMessage::size); it is at most max-size, and a reader that yields more is
// an error ("message larger than max-size") before spamd is contacted. cfg.max_size 0 (a
// config built in code) means kMaxMessage.
// Result: spam when spamd says True (or Yes), else clean; score and required as spamd gave them;
// detail the rule names, cut to kMaxDetail bytes at a comma ("...,..." marks the cut).
// Failures (status error, detail says which): no connection, a timeout (each step bounded by
// the deadline), a spamd error code ("spamd answered \"SPAMD/1.0 76 Bad header line...\""), an
// answer that is not SPAMD/1.x, lacks its Spam: or Content-length: header, has a score that is
// not a finite number, is shorter or longer than its Content-length, or exceeds kMaxAnswer
// bytes (RELIABILITY F8, B20). Nothing is logged here: the caller logs the result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engines/scanner.h"
#include "lib/config_types.h"

namespace mpp::engines {

// spamd's answer to SYMBOLS, parsed.
struct SpamdAnswer {
    bool spam = false;
    double score = 0;
    double required = 0;
    std::string symbols;  // the rule names, sanitised and cut (see kMaxDetail)
};

class SpamdEngine final : public Engine {
public:
    static constexpr std::size_t kMaxAnswer = 64 * 1024;  // bytes of an answer read at most
    static constexpr std::size_t kMaxDetail = 200;        // bytes of the rule list kept
    static constexpr std::uint64_t kMaxMessage = 1024ull * 1024 * 1024;  // without max_size

    explicit SpamdEngine(config::SpamdCfg cfg) : cfg_(std::move(cfg)) {}

    const std::string& name() const override { return cfg_.name; }
    EngineResult scan(const ScanMessage& msg, Deadline deadline) override;

    // "PING SPAMC/1.5" answered by "SPAMD/1.x 0 PONG": spamd is up. False with *error.
    bool ping(Deadline deadline, std::string* error) const;

    const config::SpamdCfg& config() const { return cfg_; }

private:
    config::SpamdCfg cfg_;
};

// Parses a whole answer to SYMBOLS (as read until spamd closed); nullopt with *error.
std::optional<SpamdAnswer> parse_spamd_answer(std::string_view answer, std::string* error);

// Whether `answer` (read so far) is complete: its headers ended and its Content-length of body
// arrived. An answer without Content-length is complete only when spamd closes.
bool spamd_answer_complete(std::string_view answer);

}  // namespace mpp::engines
