// lib/config.h: the configuration snapshot, and how it is loaded.
//
// Owns: the typed, immutable view of mppd.conf.xml (struct Config and its parts), and the
// loader that turns XML into it. A loaded Config is never modified; the daemon holds it in a
// std::shared_ptr<const Config> that a reload swaps atomically (lib/config_holder.h), and work in
// flight keeps the snapshot it started with.
//
// Errors: loading never throws for bad input. Every problem is a Diagnostic with file and line
// ("FILE:LINE: what is wrong"); a config with any error yields no Config. Elements whose feature is
// not built yet give a warning naming them (never silently ignored).
//
// The schema (every element and attribute, its type, default, bounds and documentation) is one
// table (lib/config_schema.h, filled per area by lib/config_schema_*.cc); parsing, validation,
// `mppd -t` and the check that the man page and sample config document every attribute are all
// driven from it. The file format and every diagnostic are in docs/mppd.conf.xml.5.
// Limits: a file is at most 16 MiB; at most 200 errors are reported.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config_types.h"

namespace mpp::config {

struct Diagnostic {
    enum class Severity { warning, error };
    Severity severity = Severity::error;
    std::string file;  // as given to the loader ("<stdin>" for standard input)
    int line = 0;      // 1-based; 0 when the problem is not tied to a line (unreadable file)
    std::string message;

    // "FILE:LINE: message" (errors) or "FILE:LINE: warning: message".
    std::string str() const;
    // "FILE:LINE: message" whatever the severity: for the logger, which adds its own word.
    std::string located() const;
};

struct LoadResult {
    std::shared_ptr<const Config> config;  // null when there is any error
    std::vector<Diagnostic> diagnostics;   // errors and warnings, in file order

    bool ok() const { return config != nullptr; }
    std::size_t error_count() const;
};

// Reads and validates a config file; path "-" reads standard input.
LoadResult load_file(const std::string& path);

// Validates XML text; `name` is what diagnostics call the file.
LoadResult load_string(std::string_view xml, const std::string& name);

}  // namespace mpp::config
