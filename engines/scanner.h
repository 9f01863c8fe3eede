// engines/scanner.h: the one small interface every content engine (spamd, clamd, a command-line
// scanner) implements, and what it is given and gives back.
//
// Owns: nothing; types only. An Engine object is built from its config (<spamd>, <clamd>,
// <command>) and lives as long as the configuration snapshot that defined it.
// Threads: scan() is called from several libmilter worker threads at once (one message each);
// an implementation keeps no per-call state in the object (or guards it).
// Calls: scan() is a blocking call that must return by `deadline` (connect, write and read
// each bounded by what is left of it); it never throws. Bounding how many calls run at once,
// the circuit breaker, max-size and on-error are the caller's (engines/scan_runner.h), not the
// engine's.
// Message: open() gives an independent reader over the whole RFC 5322 message with CRLF line
// endings; it may be called concurrently and more than once (a retry reads from the start).
// `size` is the size as received (the reader may yield a little more when bare LFs became
// CRLF): engines that need an exact length (spamd's Content-length) read into memory first.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mpp::engines {

using Deadline = std::chrono::steady_clock::time_point;

class MessageReader {
public:
    virtual ~MessageReader() = default;
    // Up to `n` bytes into `out`; 0 at the end or on failure (then failed() and error()).
    virtual std::size_t read(char* out, std::size_t n) = 0;
    virtual bool failed() const = 0;
    virtual std::string error() const = 0;
};

// The message and its envelope, as the milter (or mppscan) has them.
struct ScanMessage {
    std::string queue_id;  // for log lines; may be empty (mppscan)
    std::uint64_t size = 0;
    std::function<std::unique_ptr<MessageReader>()> open;
    std::string sender;                   // envelope sender, "" for the null sender
    std::vector<std::string> recipients;  // envelope recipients
    std::string client_ip;                // "" when unknown
    std::string client_name;
    std::string helo;
};

// A reader over bytes in memory (tests, mppscan, small messages).
std::unique_ptr<MessageReader> memory_reader(std::string bytes);

struct EngineResult {
    enum class Status {
        clean,    // looked at, nothing found
        spam,     // spamd: score at or above spamd's own required score
        virus,    // clamd / command: infected (`detail` is the virus name)
        limits,   // clamd: its scan limits were exceeded (an archive bomb); <clamd on-limits>
        error,    // could not scan: connection refused, timeout, protocol error (`detail` says)
        skipped,  // not sent: too big for max-size, breaker open, exempt (the runner sets it)
    };
    Status status = Status::error;
    std::string engine;  // the engine's name (its config's name=)
    // spamd: its score (not yet weighted) and its required score; 0 for the others.
    double score = 0;
    double required = 0;
    // virus name, or spamd's rules ("GTUBE,BAYES_50"), or the error / skip reason.
    std::string detail;
    std::chrono::milliseconds elapsed{0};
};

// "clean", "spam", "virus", "limits", "error", "skipped".
const char* status_name(EngineResult::Status);

class Engine {
public:
    virtual ~Engine() = default;
    virtual const std::string& name() const = 0;
    // Scans `msg`; returns by `deadline` (status error, detail "timeout" when it passed).
    virtual EngineResult scan(const ScanMessage& msg, Deadline deadline) = 0;
};

}  // namespace mpp::engines
