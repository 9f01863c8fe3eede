// lib/config_types.h: the typed parts of a configuration snapshot (see lib/config.h).
//
// One struct per XML element; a field per attribute, named after it (`greylist/@retry-window` is
// GreylistCfg::retry_window). Defaults live in the schema table (lib/config_schema.cc), not here,
// so that the man page, the sample and the parser agree; the initialisers below only give a
// defined value to a default-constructed struct in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mpp::config {

using Duration = std::chrono::seconds;

// <daemon>
struct DaemonCfg {
    std::string user;        // empty: stay as the starting user (refused when that is root)
    std::string group;       // empty: the user's primary group
    std::string state_dir;   // default LOCALSTATEDIR/lib/mppd
    std::string pidfile;     // default RUNSTATEDIR/mppd/mppd.pid; empty string: none
    Duration shutdown_timeout{30};  // how long a graceful stop waits for work in flight
};

// <log>
struct LogCfg {
    std::string syslog_facility = "mail";  // "none" turns syslog off
    std::string file;                      // empty: no log file
    std::uint64_t rotate_size = 0;         // bytes; 0: never by size
    Duration rotate_every{0};              // 0: never by time
    unsigned rotate_keep = 7;              // rotated files kept (file.1 .. file.N)
    std::string level = "info";            // debug info notice warning error
};

// <milter>
struct MilterCfg {
    bool enabled = true;
    std::string socket;      // libmilter spec: inet:PORT@HOST, inet6:PORT@HOST, unix:/path
    Duration timeout{300};   // libmilter I/O timeout (smfi_settimeout)
    int backlog = 128;       // listen(2) backlog (smfi_setbacklog)
};

// <policy-server>
struct PolicyServerCfg {
    bool enabled = true;
    std::string listen;      // HOST:PORT, [V6]:PORT, or unix:/path
    bool standalone = false;
    int threads_min = 2;
    int threads_max = 64;
    Duration idle_timeout{300};
    int max_connections = 1000;
};

// <control>
struct ControlCfg {
    std::string socket;      // unix socket path
    unsigned mode = 0660;    // permission bits of the socket
    std::string group;       // group owning the socket; empty: the daemon's group
};

// The whole snapshot. (The remaining sections: lists, rbls, engines, store, groups and their
// checks, are added beside these.)
struct Config {
    DaemonCfg daemon;
    LogCfg log;
    MilterCfg milter;
    PolicyServerCfg policy_server;
    ControlCfg control;

    std::string source;        // file it was loaded from ("-" for standard input)
    std::string revision;      // short hash of the XML text: names this snapshot in logs and records
    std::chrono::system_clock::time_point loaded_at;
};

}  // namespace mpp::config
