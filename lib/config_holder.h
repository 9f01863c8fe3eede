// lib/config_holder.h: the live configuration snapshot and its atomic replacement on reload.
//
// State: one std::shared_ptr<const Config>, read lock-free by any thread (libmilter workers,
// event loops) with current(); a caller keeps the pointer it got for the whole transaction, so
// work in flight finishes with the snapshot it started with. reload() builds and validates a new
// snapshot first and swaps it in only when it has no error: a broken file never replaces a
// working configuration (RELIABILITY F13).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/config.h"

namespace mpp::config {

class ConfigHolder {
public:
    explicit ConfigHolder(std::shared_ptr<const Config> initial) : current_(std::move(initial)) {}

    std::shared_ptr<const Config> current() const { return current_.load(); }

    struct ReloadResult {
        bool ok = false;
        std::string revision;                 // the live revision after the attempt
        std::vector<Diagnostic> diagnostics;  // errors (then the old snapshot stays) and warnings
    };

    // Loads `path` (the source of the current snapshot when empty) and swaps it in when valid.
    // A config read from standard input can't be re-read: that is reported as an error.
    // Serialised: two reloads never interleave.
    ReloadResult reload(const std::string& path = {});

    // Swaps in an already validated snapshot (tests, and reload after load).
    void replace(std::shared_ptr<const Config> next) { current_.store(std::move(next)); }

    unsigned long reloads() const { return reloads_.load(); }
    unsigned long reload_failures() const { return reload_failures_.load(); }

private:
    std::atomic<std::shared_ptr<const Config>> current_;
    std::mutex reload_mutex_;
    std::atomic<unsigned long> reloads_{0};
    std::atomic<unsigned long> reload_failures_{0};
};

}  // namespace mpp::config
