// milter/daemon.h: the running mppd: sockets, privileges, the main event loop, reload and stop.
//
// Owns: the configuration holder, the main event loop (main thread: control socket, policy
// server, signals, timers), the milter runner (its own thread), the pidfile. Threads: run()
// runs on the main thread; libmilter callbacks run on libmilter's threads, read the holder
// and call the checks (shared with the policy server, given to the milter before it serves).
// Signals: SIGHUP reloads, SIGTERM and SIGINT stop gracefully (see milter_runner.h for why the
// main thread is the one that gets them). A graceful stop refuses new connections, waits for
// sessions in flight up to <daemon shutdown-timeout>, then exits.
// Failures: a set-up failure (bind, user, pidfile) is an error text and exit status 2; a reload
// failure keeps the old snapshot, logs each error and is counted.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "lib/config_holder.h"
#include "lib/event.h"
#include "milter/control_server.h"
#include "milter/milter_runner.h"
#include "milter/options.h"
#include "milter/privileges.h"
#include "policy/checks.h"
#include "policy/policy_server.h"

namespace mpp::milter {

class Daemon {
public:
    Daemon(Options options, std::shared_ptr<const config::Config> config);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Sets up, serves until stopped, cleans up. Returns the process exit status.
    int run();

private:
    bool setup(std::string* error);
    bool open_policy_server(const config::Config& cfg, std::string* error);
    void register_verbs();
    control::Response status() const;
    control::Response reload(const std::string& why);
    void begin_stop(const std::string& why);
    void poll_stop();

    static void on_signal(evutil_socket_t sig, short, void* arg);
    static void on_stop_timer(evutil_socket_t, short, void* arg);

    Options options_;
    config::ConfigHolder holder_;
    RunAs run_as_;
    EventBasePtr base_;
    EventPtr sighup_, sigterm_, sigint_, stop_timer_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<MilterRunner> milter_;
    std::shared_ptr<policy::Checks> checks_;        // the SMTP-level checks (both front ends)
    std::unique_ptr<policy::PolicyServer> policy_;  // <policy-server enabled="yes">
    std::string pidfile_;
    std::chrono::steady_clock::time_point started_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_;
    bool sessions_left_ = false;  // the shutdown timeout passed with sessions still open
};

// Logger options for a snapshot (foreground adds stderr).
void configure_logging(const config::Config& cfg, bool foreground);

// One log line per diagnostic, "FILE:LINE: message", at error or warning level.
void log_diagnostics(const std::vector<config::Diagnostic>& diags);

}  // namespace mpp::milter
