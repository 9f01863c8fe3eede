// lib/config_types.h: the typed parts of a configuration snapshot (see lib/config.h).
//
// One struct per XML element; a field per attribute, named after it (`greylist/@retry-window` is
// GreylistCfg::retry_window). Defaults live in the schema table (lib/config_schema_*.cc), not
// here, so that the man page, the sample and the parser agree; the initialisers below only give a
// defined value to a default-constructed struct in tests. This file holds the daemon-wide
// sections; named definitions and policy groups are in lib/config_types_policy.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/config_values.h"

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
    bool rotate_on_reload = true;          // rotate (or reopen, after logrotate) on reload
    std::string level = "info";            // debug info notice warning error
};

// <milter>
// checks="auto": the milter runs the SMTP-level checks only when the policy server is off (a
// deployment with both front ends would otherwise count each message twice).
enum class MilterChecks { automatic, yes, no };
struct MilterCfg {
    bool enabled = true;
    std::string socket;      // libmilter spec: inet:PORT@HOST, inet6:PORT@HOST, unix:/path
    Duration timeout{300};   // libmilter I/O timeout (smfi_settimeout)
    int backlog = 128;       // listen(2) backlog (smfi_setbacklog)
    MilterChecks checks = MilterChecks::automatic;
    bool block_at_connect = true;  // a globally blocked client is refused at connect
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
    Duration request_timeout{20};  // one request, DNS included (< Postfix's policy timeout)
};

// <control>
struct ControlCfg {
    std::string socket;      // unix socket path
    unsigned mode = 0660;    // permission bits of the socket
    std::string group;       // group owning the socket; empty: the daemon's group
};

// <dns>
struct DnsCfg {
    std::vector<std::string> resolver;   // "IP" or "IP:PORT"; empty: /etc/resolv.conf
    Duration timeout{2};                 // per query
    int attempts = 2;
    int max_inflight = 1000;             // queries in flight at once
    int cache_entries = 10000;
};

// <store>
struct StoreCfg {
    std::string spool;                   // default LOCALSTATEDIR/spool/mppd
    std::uint64_t spool_high_water = 0;  // bytes; above it, mail needing storage is deferred
    std::string database;                // mariadb://USER@HOST[:PORT]/DB; empty: none
    std::string database_password_file;
    Duration database_timeout{5};
    std::string maildir;                 // template (%U% %D% %U1% ...); empty: none
    std::string forward;                 // HOST:PORT of a central mppd; empty: write locally
    Tracking tracking = Tracking::none;
};

// <alerts>
struct AlertsCfg {
    std::string from;
    std::vector<std::string> to;
    std::string sendmail;                // used when relay is empty
    std::string relay;                   // HOST:PORT of an SMTP relay
    Duration min_interval{600};          // per alert key
};

// <networks>
struct NetworksCfg {
    NetMatch internal;                   // clients on these networks send outbound mail
    bool authenticated_outbound = true;  // SASL-authenticated clients send outbound mail
};

// <limits>
struct LimitsCfg {
    std::uint64_t max_message_size = 0;  // 0: the MTA's limit only
    std::uint64_t spill_size = 0;        // message bodies above this go to a temp file
    std::uint64_t max_header_size = 0;   // one header field
    int max_headers = 0;
    int max_mime_depth = 0;
    int max_mime_parts = 0;
    Duration eom_budget{120};            // all content checks of one message
    long regex_match_limit = 0;
    long regex_depth_limit = 0;
    std::uint64_t regex_heap_limit = 0;  // bytes
    BombAction on_exceeded = BombAction::reject;
};

}  // namespace mpp::config

#include "lib/config_types_policy.h"

namespace mpp::config {

// The whole snapshot. Every section is present: an element missing from the file gets its
// defaults. Named definitions (lists, rbls, engines) and groups keep file order; references
// to them (config::Ref) hold their index.
struct Config {
    DaemonCfg daemon;
    LogCfg log;
    MilterCfg milter;
    PolicyServerCfg policy_server;
    ControlCfg control;
    DnsCfg dns;
    StoreCfg store;
    AlertsCfg alerts;
    NetworksCfg networks;
    LimitsCfg limits;

    std::vector<ListCfg> lists;
    std::vector<RblCfg> rbls;
    std::vector<SpamdCfg> spamd;
    std::vector<ClamdCfg> clamd;
    std::vector<CommandCfg> commands;

    std::vector<MatchCfg> allow;         // global <allow>
    std::vector<MatchCfg> deny;          // global <deny>
    std::vector<ReplyCfg> rejects;       // global <reject> templates
    std::vector<ReplyCfg> defers;        // global <defer> templates

    // Policy groups in file order; the group named "default" is always present and always
    // last (implied, with no checks, when the file has none). A recipient belongs to the first
    // group whose <match> it matches, else to "default".
    std::vector<GroupCfg> groups;
    const GroupCfg& default_group() const {
        static const GroupCfg none{};
        return groups.empty() ? none : groups.back();
    }

    std::string source;        // file it was loaded from ("-" for standard input)
    std::string revision;      // short hash of the XML text: names this snapshot in logs and records
    std::chrono::system_clock::time_point loaded_at;
};

}  // namespace mpp::config
