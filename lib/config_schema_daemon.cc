// lib/config_schema_daemon.cc: schema of the daemon-wide elements: <mppd> itself, <daemon>,
// <log>, <milter>, <policy-server>, <control>, <dns>, <store>, <alerts>, <networks>, <limits>.
//
// Each is a singleton child of <mppd> bound to a plain member of Config; when the file omits
// one, its defaults apply. Compiled-in paths come from the build (MPP_SYSCONFDIR,
// MPP_LOCALSTATEDIR, MPP_RUNSTATEDIR); the docs show them as LOCALSTATEDIR/... .
#include <string>

#include "lib/config_loader.h"
#include "lib/config_schema.h"
#include "lib/config_schema_shared.h"
#include "lib/socket_spec.h"

#if !defined(MPP_LOCALSTATEDIR) || !defined(MPP_RUNSTATEDIR)
#error "MPP_LOCALSTATEDIR and MPP_RUNSTATEDIR must be defined by the build"
#endif

namespace mpp::config::schema {

namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kG = 1024LL * 1024 * 1024;
constexpr std::int64_t kM = 1024LL * 1024;

// Plain strings in the struct (the daemon passes them on as they are): the int is unused.
const Choices kFacilities = Choices::of<int>({{"none", 0},
                                              {"mail", 0},
                                              {"daemon", 0},
                                              {"user", 0},
                                              {"local0", 0},
                                              {"local1", 0},
                                              {"local2", 0},
                                              {"local3", 0},
                                              {"local4", 0},
                                              {"local5", 0},
                                              {"local6", 0},
                                              {"local7", 0}});
const Choices kLevels =
    Choices::of<int>({{"debug", 0}, {"info", 0}, {"notice", 0}, {"warning", 0}, {"error", 0}});
const Choices kTracking = Choices::of<Tracking>(
    {{"none", Tracking::none}, {"basic", Tracking::basic}, {"full", Tracking::full}});
const Choices kMilterChecks = Choices::of<MilterChecks>(
    {{"auto", MilterChecks::automatic}, {"yes", MilterChecks::yes}, {"no", MilterChecks::no}});
const Choices kBomb = Choices::of<BombAction>(
    {{"reject", BombAction::reject}, {"quarantine", BombAction::quarantine}});

Element root() {
    Builder<Config, Config> b(
        "mppd", "", Mult::optional,
        "The root element. Its children may come in any order; named definitions (<list>, <rbl>, "
        "<spamd>, <clamd>, <command>) may be referenced before they appear.");
    return b.built(true, "").done();
}

Element daemon() {
    Builder<DaemonCfg, Config> b("daemon", "mppd", Mult::optional,
                                 "The process: who it runs as and where it keeps its files.");
    b.in(&Config::daemon).built(true, "");
    b.attr("user", Type::string, &DaemonCfg::user, "",
           "System user mppd switches to after binding its sockets. Empty: stay as the starting "
           "user, which is refused when that is root.");
    b.attr("group", Type::string, &DaemonCfg::group, "",
           "System group to switch to. Empty: the user's primary group.");
    b.attr("state-dir", Type::path, &DaemonCfg::state_dir, MPP_LOCALSTATEDIR "/lib/mppd",
           "Directory for persistent state: the greylist (greylist.snapshot, "
           "greylist.journal.N), the block list (blocklist.state) and the threshold counters "
           "(thresholds.state); see mppd(8), FILES. Created if missing, owned by the user.")
        .not_empty()
        .docs_default("LOCALSTATEDIR/lib/mppd");
    b.attr("pidfile", Type::path, &DaemonCfg::pidfile, MPP_RUNSTATEDIR "/mppd/mppd.pid",
           "File that holds the process id while mppd runs. Empty: none.")
        .docs_default("RUNSTATEDIR/mppd/mppd.pid");
    b.attr("shutdown-timeout", Type::duration, &DaemonCfg::shutdown_timeout, "30s",
           "How long a graceful stop waits for work in flight before it exits anyway.")
        .range(0, kHour);
    return b.done();
}

Element log() {
    Builder<LogCfg, Config> b("log", "mppd", Mult::optional,
                              "Where log lines go: syslog and/or a file of its own with rotation.");
    b.in(&Config::log).built(true, "");
    b.choice("syslog-facility", kFacilities, &LogCfg::syslog_facility, "mail",
             "Syslog facility; none turns syslog off.");
    b.attr("file", Type::path, &LogCfg::file, "", "Log file written besides syslog. Empty: none.");
    b.attr("rotate-size", Type::size, &LogCfg::rotate_size, "0",
           "Rotate the file when it grows past this size; 0: never by size.")
        .range(0, 64 * kG);
    b.attr("rotate-every", Type::duration, &LogCfg::rotate_every, "0s",
           "Rotate the file at this interval; 0s: never by time.")
        .range(0, 365 * kDay);
    b.attr("rotate-keep", Type::integer, &LogCfg::rotate_keep, "7",
           "Rotated files kept (file.1 ... file.N).")
        .range(0, 1000);
    b.attr("rotate-on-reload", Type::boolean, &LogCfg::rotate_on_reload, "yes",
           "Rotate the file on every reload (SIGHUP, mppctl reload); a file that logrotate "
           "has already moved away is only reopened.");
    b.choice("level", kLevels, &LogCfg::level, "info", "Lowest level logged.");
    return b.done();
}

Element milter() {
    Builder<MilterCfg, Config> b("milter", "mppd", Mult::optional,
                                 "The libmilter front end that Postfix or Sendmail connect to.");
    b.in(&Config::milter).built(true, "");
    b.attr("enabled", Type::boolean, &MilterCfg::enabled, "yes",
           "Whether mppd serves the milter protocol.");
    b.attr(
         "socket", Type::milter_socket, &MilterCfg::socket, "inet:10025@127.0.0.1",
         "Listening socket, in libmilter's syntax (Postfix: smtpd_milters = inet:127.0.0.1:10025).")
        .not_empty();
    b.attr("timeout", Type::duration, &MilterCfg::timeout, "300s",
           "libmilter I/O timeout with the MTA.")
        .range(1, kHour);
    b.attr("backlog", Type::integer, &MilterCfg::backlog, "128",
           "listen(2) backlog of the milter socket.")
        .range(1, 65535);
    b.choice("checks", kMilterChecks, &MilterCfg::checks, "auto",
             "Whether the milter runs the SMTP-level checks (allow/deny, block list, spam traps, "
             "thresholds, greylisting) at RCPT: auto: only when <policy-server enabled=\"no\"> "
             "(so a message is not counted twice); yes or no: always or never.");
    b.attr("block-at-connect", Type::boolean, &MilterCfg::block_at_connect, "yes",
           "When the milter runs the checks: yes: a client on the global block list (a spam "
           "trap with scope=\"global\", mppctl blacklist add) is refused at connect (554 5.7.1, "
           "to every command); no: at RCPT, like blocks of one group (where Sendmail's F= "
           "makes refusing at connect unwise).");
    return b.done();
}

Element policy_server() {
    Builder<PolicyServerCfg, Config> b(
        "policy-server", "mppd", Mult::optional,
        "The Postfix policy delegation server (check_policy_service).");
    b.in(&Config::policy_server).built(true, "");
    b.attr("enabled", Type::boolean, &PolicyServerCfg::enabled, "yes",
           "Whether mppd serves the policy protocol.");
    b.attr("listen", Type::listen_socket, &PolicyServerCfg::listen, "127.0.0.1:10031",
           "Listening socket (Postfix: check_policy_service inet:127.0.0.1:10031).")
        .not_empty();
    b.attr("standalone", Type::boolean, &PolicyServerCfg::standalone, "no",
           "yes: no milter follows, so an accepted request is answered OK (else DUNNO).");
    b.attr("threads-min", Type::integer, &PolicyServerCfg::threads_min, "2",
           "Loop threads serving connections: one per CPU, at least this many.")
        .range(1, 400);
    b.attr("threads-max", Type::integer, &PolicyServerCfg::threads_max, "64",
           "Loop threads at most (the count is fixed at start).")
        .range(1, 400);
    b.attr("idle-timeout", Type::duration, &PolicyServerCfg::idle_timeout, "300s",
           "An idle Postfix connection is closed after this.")
        .range(1, kDay);
    b.attr("max-connections", Type::integer, &PolicyServerCfg::max_connections, "1000",
           "Connections at once; more are refused.")
        .range(1, 100000);
    b.attr("request-timeout", Type::duration, &PolicyServerCfg::request_timeout, "20s",
           "Deadline of one request, DNS included; keep it below Postfix's "
           "smtpd_policy_service_timeout.")
        .range(1, 600);
    b.finish([](PolicyServerCfg& p, const NodeInfo& n, Checker& c) {
        if (p.threads_min > p.threads_max)
            c.error(n.line_of("threads-min"),
                    "<policy-server>: threads-min (" + std::to_string(p.threads_min) +
                        ") is above threads-max (" + std::to_string(p.threads_max) + ")");
    });
    return b.done();
}

Element control() {
    Builder<ControlCfg, Config> b("control", "mppd", Mult::optional,
                                  "The control socket that mppctl talks to.");
    b.in(&Config::control).built(true, "");
    b.attr("socket", Type::path, &ControlCfg::socket, MPP_RUNSTATEDIR "/mppd/control.sock",
           "Unix socket path.")
        .not_empty()
        .docs_default("RUNSTATEDIR/mppd/control.sock");
    b.attr("mode", Type::file_mode, &ControlCfg::mode, "0660", "Permission bits of the socket.");
    b.attr("group", Type::string, &ControlCfg::group, "",
           "Group owning the socket. Empty: the daemon's group.");
    return b.done();
}

Element dns() {
    Builder<DnsCfg, Config> b("dns", "mppd", Mult::optional,
                              "The resolver used for RBL lookups and client names.");
    b.in(&Config::dns).built(true, "");
    b.attr("resolver", Type::resolvers, &DnsCfg::resolver, "",
           "Name servers (IP or IP:PORT). Empty: those of /etc/resolv.conf.");
    b.attr("timeout", Type::duration, &DnsCfg::timeout, "2s", "Deadline of one query.")
        .range(1, 60);
    b.attr("attempts", Type::integer, &DnsCfg::attempts, "2", "Tries per query.").range(1, 10);
    b.attr("max-inflight", Type::integer, &DnsCfg::max_inflight, "1000",
           "Queries in flight at once.")
        .range(1, 100000);
    b.attr("cache-entries", Type::integer, &DnsCfg::cache_entries, "10000",
           "Answers cached; 0: no cache.")
        .range(0, 10000000);
    return b.done();
}

Element store() {
    Builder<StoreCfg, Config> b(
        "store", "mppd", Mult::optional,
        "Where quarantined and archived mail and tracking records go: always through the disk "
        "spool, then the database, maildirs, or a central mppd.");
    b.in(&Config::store).built(false, "the store (spool, database, maildir)");
    b.attr("spool", Type::path, &StoreCfg::spool, MPP_LOCALSTATEDIR "/spool/mppd",
           "Durable disk spool; a record is fsynced here before the MTA hears accept.")
        .not_empty()
        .docs_default("LOCALSTATEDIR/spool/mppd");
    b.attr("spool-high-water", Type::size, &StoreCfg::spool_high_water, "1G",
           "Above this much spooled data, mail that needs storing is deferred (452 4.3.1).")
        .range(1 * kM, 1024 * kG);
    b.attr("database", Type::database_url, &StoreCfg::database, "",
           "MariaDB for quarantine, archive, tracking and shared state: "
           "mariadb://USER@HOST[:PORT]/DB[?socket=/path]. Empty: none (embedded tables and "
           "maildirs).");
    b.attr("database-password-file", Type::path, &StoreCfg::database_password_file, "",
           "File holding the database password (one line). Empty: no password.");
    b.attr("database-timeout", Type::duration, &StoreCfg::database_timeout, "5s",
           "Connect, read and write timeout of database calls.")
        .range(1, 300);
    b.attr("maildir", Type::template_text, &StoreCfg::maildir,
           MPP_LOCALSTATEDIR "/lib/mppd/mail/%D%/%U%",
           "Maildir path template for mail stored as maildir; %U% %D% user and domain, %U1% %U2% "
           "%D1% %D2% their first letters.")
        .with_macros(kMaildirMacros)
        .docs_default("LOCALSTATEDIR/lib/mppd/mail/%D%/%U%");
    b.attr("forward", Type::endpoint, &StoreCfg::forward, "",
           "HOST:PORT of a central mppd that receives quarantine and archive traffic over ESMTP. "
           "Empty: store locally.");
    b.choice("tracking", kTracking, &StoreCfg::tracking, "none",
             "Per-message tracking records: none, basic (envelope and verdict) or full (also every "
             "check's result).");
    b.finish([](StoreCfg& s, const NodeInfo& n, Checker& c) {
        if (!s.maildir.empty() && s.maildir[0] != '/')
            c.error(n.line_of("maildir"), "<store>: maildir must be an absolute path template");
        if (s.tracking != Tracking::none && s.database.empty() && s.forward.empty())
            c.error(n.line_of("tracking"), "<store>: tracking needs a database or forward");
        if (!s.database_password_file.empty() && s.database.empty())
            c.error(n.line_of("database-password-file"),
                    "<store>: database-password-file without a database");
    });
    return b.done();
}

Element alerts() {
    Builder<AlertsCfg, Config> b("alerts", "mppd", Mult::optional,
                                 "How alert mail (threshold crossings) is sent.");
    b.in(&Config::alerts).built(true, "");
    b.attr("from", Type::mail_address, &AlertsCfg::from, "mppd@localhost", "Sender of alert mail.");
    b.attr("to", Type::mail_addresses, &AlertsCfg::to, "postmaster@localhost",
           "Recipients of alerts that do not name their own (alert-to).");
    b.attr("sendmail", Type::path, &AlertsCfg::sendmail, "/usr/sbin/sendmail",
           "sendmail-compatible program used when relay is empty, run as PROGRAM -i -f FROM -- "
           "RCPT...");
    b.attr("relay", Type::endpoint, &AlertsCfg::relay, "",
           "SMTP relay (HOST:PORT, [IPV6]:PORT or unix:/path) used instead of sendmail.");
    b.attr("min-interval", Type::duration, &AlertsCfg::min_interval, "10m",
           "At most one alert per group, rule and key in this interval; 0s: every crossing.")
        .range(0, kDay);
    b.finish([](AlertsCfg& a, const NodeInfo& n, Checker& c) {
        auto relay = a.relay.empty() ? std::nullopt : SocketSpec::parse_listen(a.relay);
        if (relay && relay->kind != SocketSpec::Kind::unix_path && relay->host.empty())
            c.error(n.line_of("relay"), "<alerts>: relay needs a host (HOST:PORT)");
    });
    return b.done();
}

Element networks() {
    Builder<NetworksCfg, Config> b(
        "networks", "mppd", Mult::optional,
        "Which clients are ours: mail from them is outbound, all other mail inbound.");
    b.in(&Config::networks).built(true, "");
    b.attr("internal", Type::net_match, &NetworksCfg::internal, "127.0.0.0/8 ::1",
           "Internal networks (CIDR) and/or names of cidr lists.");
    b.attr("authenticated-outbound", Type::boolean, &NetworksCfg::authenticated_outbound, "yes",
           "Mail from SASL-authenticated clients is outbound wherever they connect from.");
    return b.done();
}

Element limits() {
    Builder<LimitsCfg, Config> b("limits", "mppd", Mult::optional,
                                 "Bounds on what one message may cost; exceeding one is a final "
                                 "decision (on-exceeded), never a tempfail.");
    b.in(&Config::limits).built(true, "");
    b.attr("max-message-size", Type::size, &LimitsCfg::max_message_size, "0",
           "Largest message accepted; 0: the MTA's limit only.")
        .range(0, 64 * kG);
    b.attr("spill-size", Type::size, &LimitsCfg::spill_size, "1M",
           "Message bodies larger than this are kept in a temp file, not memory.")
        .range(4096, kG);
    b.attr("max-header-size", Type::size, &LimitsCfg::max_header_size, "64K",
           "Largest single header field.")
        .range(1024, 16 * kM);
    b.attr("max-headers", Type::integer, &LimitsCfg::max_headers, "1000",
           "Most header fields in a message.")
        .range(10, 100000);
    b.attr("max-mime-depth", Type::integer, &LimitsCfg::max_mime_depth, "50",
           "Deepest MIME nesting.")
        .range(1, 1000);
    b.attr("max-mime-parts", Type::integer, &LimitsCfg::max_mime_parts, "10000",
           "Most MIME parts in a message.")
        .range(1, 1000000);
    b.attr("eom-budget", Type::duration, &LimitsCfg::eom_budget, "120s",
           "Time for all content checks of one message; keep it below the MTA's milter content "
           "timeout.")
        .range(1, kHour);
    b.attr("regex-match-limit", Type::integer, &LimitsCfg::regex_match_limit, "100000",
           "PCRE2 match limit of every configured regex.")
        .range(1000, 100000000);
    b.attr("regex-depth-limit", Type::integer, &LimitsCfg::regex_depth_limit, "10000",
           "PCRE2 depth limit.")
        .range(100, 10000000);
    b.attr("regex-heap-limit", Type::size, &LimitsCfg::regex_heap_limit, "20M", "PCRE2 heap limit.")
        .range(kM, kG);
    b.choice("on-exceeded", kBomb, &LimitsCfg::on_exceeded, "reject",
             "What a message over a limit gets (reject: 554 5.6.0).");
    return b.done();
}

}  // namespace

void add_daemon_elements(std::vector<Element>& t) {
    t.push_back(root());
    t.push_back(daemon());
    t.push_back(log());
    t.push_back(milter());
    t.push_back(policy_server());
    t.push_back(control());
    t.push_back(dns());
    t.push_back(store());
    t.push_back(alerts());
    t.push_back(networks());
    t.push_back(limits());
}

}  // namespace mpp::config::schema
