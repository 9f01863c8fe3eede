// milter/daemon.cc: set-up, the main loop, reload and graceful stop (see daemon.h).
#include "milter/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <thread>

#include "config.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/units.h"
#include "milter/policy_verbs.h"

namespace mpp::milter {
namespace {

std::string parent_dir(const std::string& path) {
    return std::filesystem::path(path).parent_path().string();
}

policy::PolicyServer::Settings policy_settings(const config::PolicyServerCfg& p) {
    using std::chrono::milliseconds;
    policy::PolicyServer::Settings s;
    s.standalone = p.standalone;
    s.idle_timeout = std::chrono::duration_cast<milliseconds>(p.idle_timeout);
    s.request_timeout = std::chrono::duration_cast<milliseconds>(p.request_timeout);
    s.max_connections = p.max_connections;
    // One loop thread per CPU, within threads-min..threads-max (fixed while running).
    const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    s.threads = std::clamp(cpus, p.threads_min, p.threads_max);
    return s;
}

}  // namespace

void log_diagnostics(const std::vector<config::Diagnostic>& diags) {
    for (const auto& d : diags)
        log::write(d.severity == config::Diagnostic::Severity::error ? log::Level::error
                                                                      : log::Level::warning,
                   d.located());
}

void configure_logging(const config::Config& cfg, bool foreground) {
    log::Options o;
    o.to_stderr = foreground;
    o.syslog_facility = cfg.log.syslog_facility == "none" ? "" : cfg.log.syslog_facility;
    o.file = cfg.log.file;
    o.rotate_size = cfg.log.rotate_size;
    o.rotate_every = cfg.log.rotate_every;
    o.rotate_keep = cfg.log.rotate_keep;
    if (!log::parse_level(cfg.log.level, o.level)) o.level = log::Level::info;
    log::configure(o);
}

Daemon::Daemon(Options options, std::shared_ptr<const config::Config> config)
    : options_(std::move(options)), holder_(std::move(config)) {}

Daemon::~Daemon() {
    policy_.reset();
    control_.reset();
    if (!pidfile_.empty()) ::unlink(pidfile_.c_str());
}

bool Daemon::setup(std::string* error) {
    auto cfg = holder_.current();
    std::string warning;
    auto who = resolve_run_as(cfg->daemon.user, cfg->daemon.group, error, &warning);
    if (!who) return false;
    run_as_ = *who;
    if (!warning.empty()) log::warning(warning);

    for (const std::string& dir : {cfg->daemon.state_dir, parent_dir(cfg->daemon.pidfile),
                                   parent_dir(cfg->control.socket), parent_dir(cfg->log.file)})
        if (!ensure_dir(dir, run_as_, error)) return false;
    if (!cfg->log.file.empty()) {
        // The file was opened before the switch; rotation reopens it as the daemon user.
        if (run_as_.switch_user && ::chown(cfg->log.file.c_str(), run_as_.uid, run_as_.gid) != 0)
            log::warning(log::cat("cannot give ", cfg->log.file, " to ", run_as_.name,
                                  ": rotation will fail"));
        if (run_as_.switch_user) {
            struct stat st{};
            const std::string dir = parent_dir(cfg->log.file);
            if (::stat(dir.c_str(), &st) == 0 && st.st_uid != run_as_.uid)
                log::warning(log::cat("log directory ", dir, " is not owned by ", run_as_.name,
                                      ": mppd can't rotate ", cfg->log.file,
                                      " (give the directory to that user, or rotate with logrotate)"));
        }
    }

    base_.reset(event_base_new());
    if (!base_) {
        *error = "event_base_new failed";
        return false;
    }
    if (cfg->milter.enabled) {
        milter_ = MilterRunner::open(cfg->milter, &holder_, run_as_.uid, run_as_.gid, error);
        if (!milter_) return false;
    }
    gid_t socket_gid = run_as_.gid;
    control_ = ControlServer::open(base_.get(), cfg->control.socket, cfg->control.mode,
                                   run_as_.uid, socket_gid, error);
    if (!control_) return false;
    register_verbs();
    if (cfg->policy_server.enabled && !open_policy_server(*cfg, error)) return false;

    if (!write_pidfile(cfg->daemon.pidfile, error)) return false;
    pidfile_ = cfg->daemon.pidfile;
    if (run_as_.switch_user && !pidfile_.empty() && ::chown(pidfile_.c_str(), run_as_.uid, run_as_.gid) != 0)
        log::warning("cannot give the pidfile to the daemon user; it may stay after exit");
    if (!drop_privileges(run_as_, error)) return false;
    checks_ = std::make_shared<policy::Checks>(cfg, cfg->daemon.state_dir);
    register_policy_verbs(*control_, *checks_);  // greylist, blacklist, thresholds, ...
    // Before smfi_main serves (run() starts it): the milter's checks use the same engine.
    if (milter_) milter_->set_checks(checks_, policy_ != nullptr);
    if (auto w = checks_placement_warning(*cfg, policy_ != nullptr); !w.empty()) log::warning(w);

    sighup_.reset(evsignal_new(base_.get(), SIGHUP, &Daemon::on_signal, this));
    sigterm_.reset(evsignal_new(base_.get(), SIGTERM, &Daemon::on_signal, this));
    sigint_.reset(evsignal_new(base_.get(), SIGINT, &Daemon::on_signal, this));
    stop_timer_.reset(event_new(base_.get(), -1, EV_PERSIST, &Daemon::on_stop_timer, this));
    for (event* e : {sighup_.get(), sigterm_.get(), sigint_.get()}) event_add(e, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}

// The policy server on the main loop, bound now (before privileges are dropped).
bool Daemon::open_policy_server(const config::Config& cfg, std::string* error) {
    auto spec = SocketSpec::parse_listen(cfg.policy_server.listen, error);
    if (!spec) return false;
    // The checks are built after the privilege drop (their state files belong to the daemon
    // user), before the loop runs: no request can arrive without them.
    auto evaluate = [this](const policy::Transaction& t) {
        return checks_ ? checks_->evaluate(t) : policy::Verdict{};
    };
    policy_ = policy::PolicyServer::open(base_.get(), *spec, policy_settings(cfg.policy_server),
                                         evaluate, run_as_.uid, run_as_.gid, error);
    return policy_ != nullptr;
}

int Daemon::run() {
    auto cfg = holder_.current();
    int ready_fd = -1;
    std::string error;
    if (!options_.foreground) {
        ready_fd = daemonize(&error);
        if (ready_fd < 0) {
            log::error("cannot detach: " + error);
            return kExitRuntime;
        }
    }
    if (!setup(&error)) {
        log::error("cannot start: " + error);
        report_ready(ready_fd, error);
        return kExitRuntime;
    }
    started_ = std::chrono::steady_clock::now();
    if (milter_) milter_->start();
    log::info(log::cat("starting mppd ", PACKAGE_VERSION, " (config ", cfg->source, " revision ",
                       cfg->revision, ", milter ", cfg->milter.enabled ? cfg->milter.socket : "off",
                       ", policy ", policy_ ? log::cat(policy_->address(), " (", policy_->loops(), " threads)")
                                            : std::string("off"),
                       ", control ", cfg->control.socket, ")"));
    report_ready(ready_fd, "");

    event_base_dispatch(base_.get());

    if (checks_) checks_->close();  // the greylist's last changes reach the disk
    log::info(sessions_left_ ? "stopped with sessions still open" : "stopped");
    // smfi_main returns once libmilter's listener sees the stop (woken by MilterRunner::stop).
    for (int i = 0; i < 20 && milter_ && !milter_->finished(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!milter_ || milter_->finished()) {
        if (milter_) milter_->join();
        return kExitOk;
    }
    // libmilter's listener may notice the stop only at its next poll timeout (seconds), and
    // its threads may still hold sessions: leave without running destructors under them.
    control_.reset();
    policy_.reset();
    if (!pidfile_.empty()) ::unlink(pidfile_.c_str());
    std::_Exit(kExitOk);
}

void Daemon::register_verbs() {
    control_->add_verb("status", "status  uptime, configuration, counters",
                       [this](const control::Request&) { return status(); });
    control_->add_verb("reload", "reload  re-read the configuration file",
                       [this](const control::Request&) { return reload("mppctl reload"); });
    control_->add_verb("stop", "stop  stop gracefully", [this](const control::Request&) {
        begin_stop("mppctl stop");
        control::Response r;
        r.ok = true;
        r.status_text = "stopping";
        return r;
    });
    control_->add_verb("config-check", "config-check FILE  validate a configuration file",
                       [](const control::Request& req) {
                           control::Response r;
                           if (req.args.size() != 1) {
                               r.status_text = "usage: config-check FILE";
                               return r;
                           }
                           auto loaded = config::load_file(req.args[0]);
                           for (const auto& d : loaded.diagnostics) r.lines.push_back(d.str());
                           r.ok = loaded.ok();
                           r.status_text = r.ok ? req.args[0] + ": configuration OK"
                                                : log::cat(req.args[0], ": ", loaded.error_count(),
                                                           " error(s)");
                           return r;
                       });
}

control::Response Daemon::status() const {
    auto cfg = holder_.current();
    control::Response r;
    r.ok = true;
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                               started_);
    r.lines.push_back(std::string("version: ") + PACKAGE_VERSION);
    r.lines.push_back("pid: " + std::to_string(::getpid()));
    r.lines.push_back("uptime: " + std::to_string(up.count()) + "s");
    r.lines.push_back("state: " + std::string(stopping_ ? "stopping" : "running"));
    r.lines.push_back("config: " + cfg->source);
    r.lines.push_back("config-revision: " + cfg->revision);
    r.lines.push_back("config-loaded: " + format_utc(cfg->loaded_at));
    r.lines.push_back("reloads: " + std::to_string(holder_.reloads()));
    r.lines.push_back("reload-failures: " + std::to_string(holder_.reload_failures()));
    r.lines.push_back("milter: " + (cfg->milter.enabled ? cfg->milter.socket : std::string("off")));
    r.lines.push_back("policy-server: " + (policy_ && !policy_->address().empty()
                                               ? policy_->address()
                                               : std::string("off")));
    for (const auto& [name, value] : metrics::snapshot())
        r.lines.push_back(name + ": " + std::to_string(value));
    return r;
}

control::Response Daemon::reload(const std::string& why) {
    auto old = holder_.current();
    auto result = holder_.reload();
    control::Response r;
    for (const auto& d : result.diagnostics) r.lines.push_back(d.str());
    if (!result.ok) {
        log::error(log::cat("reload failed (", why, "): ", r.lines.size(),
                            " problem(s); keeping revision ", result.revision));
        log_diagnostics(result.diagnostics);
        r.status_text = "reload failed; keeping revision " + result.revision;
        return r;
    }
    auto now = holder_.current();
    configure_logging(*now, options_.foreground);
    if (now->log.rotate_on_reload)
        log::rotate();
    else
        log::reopen();
    log::info(log::cat("reload: configuration ", now->source, " revision ", now->revision,
                       " loaded (", why, ")"));
    log_diagnostics(result.diagnostics);
    if (now->milter.socket != old->milter.socket || now->milter.enabled != old->milter.enabled ||
        now->control.socket != old->control.socket || now->daemon.user != old->daemon.user ||
        now->policy_server.listen != old->policy_server.listen ||
        now->policy_server.enabled != old->policy_server.enabled)
        log::warning("reload: socket and user changes take effect at the next restart");
    if (policy_) policy_->update(policy_settings(now->policy_server));
    if (checks_) checks_->set_config(now);
    r.ok = true;
    r.status_text = "revision " + now->revision + " loaded";
    return r;
}

void Daemon::begin_stop(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    auto timeout = holder_.current()->daemon.shutdown_timeout;
    stop_deadline_ = std::chrono::steady_clock::now() + timeout;
    log::info(log::cat("stopping (", why, "): waiting up to ", timeout.count(), "s for ",
                       metrics::get("milter-sessions").get(), " session(s) in flight"));
    // libmilter's worker pool ends every open session once smfi_stop() is called, so the milter
    // only drains here (new connections get a tempfail at connect) and stops when no session
    // is left or the deadline has passed (poll_stop).
    if (milter_) milter_->drain();
    if (policy_) policy_->stop_accepting();
    timeval tick{0, 100 * 1000};
    event_add(stop_timer_.get(), &tick);
}

void Daemon::poll_stop() {
    const auto sessions = metrics::get("milter-sessions").get();
    if (sessions > 0 && std::chrono::steady_clock::now() < stop_deadline_) return;
    if (sessions > 0) {
        log::warning(log::cat("shutdown timeout: ", sessions, " session(s) still open"));
        sessions_left_ = true;
    }
    if (milter_) milter_->stop();
    event_base_loopexit(base_.get(), nullptr);
}

// libevent trampolines: no exception crosses into C.
void Daemon::on_signal(evutil_socket_t sig, short, void* arg) {
    auto* self = static_cast<Daemon*>(arg);
    try {
        if (sig == SIGHUP)
            self->reload("SIGHUP");
        else
            self->begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    } catch (const std::exception& e) {
        log::error(log::cat("signal ", sig, ": internal error: ", e.what()));
    }
}

void Daemon::on_stop_timer(evutil_socket_t, short, void* arg) {
    try {
        static_cast<Daemon*>(arg)->poll_stop();
    } catch (const std::exception& e) {
        log::error(log::cat("stop: internal error: ", e.what()));
        event_base_loopexit(static_cast<Daemon*>(arg)->base_.get(), nullptr);
    }
}

}  // namespace mpp::milter
