// policy/alerts.cc: alert mail for threshold crossings (see alerts.h).
#include "policy/alerts.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/units.h"

namespace mpp::policy {
namespace {

constexpr std::size_t kMaxValue = 200;  // bytes of a name or key shown in the mail
constexpr std::size_t kFoldAt = 78;     // header lines are folded before this

// Printable ASCII only, cut at kMaxValue: nothing from a client can break a header line.
std::string clean(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, kMaxValue)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (s.size() > kMaxValue) out += "...";
    return out;
}

const char* action_text(config::ThresholdAction a) {
    switch (a) {
        case config::ThresholdAction::block: return "block (its mail is refused with 5xx)";
        case config::ThresholdAction::defer: return "defer (its mail is deferred with 4xx)";
        case config::ThresholdAction::warn: return "warn (logged and reported only)";
        case config::ThresholdAction::quarantine:
            return "quarantine (its mail is flagged for quarantine)";
    }
    return "block";
}

// "To: a, b" folded so that no line passes kFoldAt when it can be helped.
std::string address_header(const std::string& name, const std::vector<std::string>& addrs) {
    std::string out = name + ":";
    std::size_t line = out.size();
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        std::string a = clean(addrs[i]) + (i + 1 < addrs.size() ? "," : "");
        if (i > 0 && line + 1 + a.size() > kFoldAt) {
            out += "\n";
            line = 0;
        }
        out += " " + a;
        line += 1 + a.size();
    }
    return out + "\n";
}

std::string local_hostname() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return clean(buf);
}

std::string log_to(const std::vector<std::string>& rcpts) {
    std::string s;
    for (const auto& r : rcpts) s += (s.empty() ? "<" : ",<") + r + ">";
    return s;
}

std::string log_what(const ThresholdAlert& a) {
    return log::cat("rule=", a.rule, " key=", a.key, " group=", a.group);
}

}  // namespace

std::string rfc5322_date(std::chrono::system_clock::time_point tp) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::time_t t = std::chrono::system_clock::to_time_t(tp);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::vector<std::string> alert_recipients(const ThresholdAlert& a, const config::AlertsCfg& cfg) {
    return a.to.empty() ? cfg.to : a.to;
}

mail::Message alert_message(const ThresholdAlert& a, const config::AlertsCfg& cfg,
                            const std::string& hostname, std::chrono::system_clock::time_point now,
                            const std::string& message_id) {
    mail::Message m;
    m.sender = cfg.from;
    m.recipients = alert_recipients(a, cfg);
    std::string group = clean(a.group), rule = clean(a.rule), key = clean(a.key);
    std::string& t = m.text;
    t += "From: " + (cfg.from.empty() ? "mppd@" + hostname : clean(cfg.from)) + "\n";
    t += address_header("To", m.recipients);
    t += "Subject: mppd: threshold " + rule + " (group " + group + ") crossed by " + key + "\n";
    t += "Date: " + rfc5322_date(now) + "\n";
    t += "Message-ID: <" + message_id + ">\n";
    t += "Auto-Submitted: auto-generated\n";
    t += "MIME-Version: 1.0\n";
    t += "Content-Type: text/plain; charset=us-ascii\n";
    t += "Content-Transfer-Encoding: 7bit\n";
    t += "\n";
    t += "mppd on " + hostname + ": threshold " + rule + " of policy group " + group +
         " was crossed by " + key + ".\n\n";
    t += "  group:     " + group + "\n";
    t += "  rule:      " + rule + "\n";
    t += "  key:       " + key + "\n";
    t += std::string("  action:    ") + action_text(a.action) + "\n";
    t += "  counted:   " + std::to_string(a.messages) + " " + a.unit + ", " + std::to_string(a.spams) +
         " spams in the last " + format_duration(a.period) + " (before this message)\n";
    t += "  block-for: " + format_duration(a.block_for) +
         (a.block_for.count() > 0 ? " (the action applies to the key until then)"
                                  : " (the action applies while the count stays over)") +
         "\n";
    t += "  time:      " + format_utc(now) + "\n";
    t += "  host:      " + hostname + "\n\n";
    t += "\"mppctl thresholds\" on " + hostname + " lists the current counters.\n";
    if (cfg.min_interval.count() > 0)
        t += "Further alerts for this rule and key are held back for " +
             format_duration(cfg.min_interval) + " (<alerts min-interval>).\n";
    return m;
}

AlertSender::AlertSender(Clock& clock, Snapshot snapshot, Options options)
    : clock_(clock),
      snapshot_(std::move(snapshot)),
      options_(std::move(options)),
      hostname_(options_.hostname.empty() ? local_hostname() : clean(options_.hostname)) {
    if (options_.max_queue == 0) options_.max_queue = 1;
    if (options_.max_keys == 0) options_.max_keys = 1;
    thread_ = std::thread([this] {
        // Signals are the main thread's business (see milter/milter_runner.h).
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        run();
    });
}

AlertSender::~AlertSender() { close(); }

void AlertSender::purge_locked(std::chrono::steady_clock::time_point now,
                               std::chrono::seconds interval) {
    while (!rate_order_.empty() && rate_order_.front().at + interval <= now) {
        rate_.erase(rate_order_.front().id);
        rate_order_.pop_front();
    }
}

void AlertSender::post(const ThresholdAlert& alert) noexcept {
    try {
        auto config = snapshot_ ? snapshot_() : nullptr;
        if (!config) config = std::make_shared<const config::Config>();
        const std::chrono::seconds interval = config->alerts.min_interval;
        const auto now = clock_.steady();
        std::string id = alert.group + '\0' + alert.rule + '\0' + alert.key;
        enum { queued, limited, dropped, closed } outcome = queued;
        {
            std::lock_guard lock(mutex_);
            purge_locked(now, interval);
            if (closing_) {
                outcome = closed;
            } else if (interval.count() > 0 && rate_.count(id)) {
                outcome = limited;
            } else if (queue_.size() >= options_.max_queue) {
                outcome = dropped;
            } else {
                if (interval.count() > 0) {
                    while (rate_.size() >= options_.max_keys && !rate_order_.empty()) {
                        rate_.erase(rate_order_.front().id);
                        rate_order_.pop_front();
                        metrics::get("alerts-rate-evictions").inc();
                    }
                    rate_order_.push_back({id, now});
                    rate_[id] = std::prev(rate_order_.end());
                }
                queue_.push_back({alert, std::move(config)});
            }
        }
        switch (outcome) {
            case queued: wake_.notify_one(); break;
            case limited:
                metrics::get("alerts-rate-limited").inc();
                log::info(log::cat("alert: rate-limited ", log_what(alert), " (min-interval ",
                                   format_duration(interval), ")"));
                break;
            case dropped:
                metrics::get("alerts-dropped").inc();
                log::warning(log::cat("alert: dropped ", log_what(alert), ": queue full (",
                                      options_.max_queue, " waiting)"));
                break;
            case closed: break;
        }
    } catch (const std::exception& e) {
        metrics::get("alerts-dropped").inc();
        log::error(log::cat("alert: dropped ", log_what(alert), ": internal error: ", e.what()));
    } catch (...) {
        metrics::get("alerts-dropped").inc();
    }
}

void AlertSender::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
        if (queue_.empty()) break;  // closing, all sent
        if (cancel_.load()) {
            std::size_t left = queue_.size();
            queue_.clear();
            lock.unlock();
            log::warning(log::cat("alert: ", left, " queued alert(s) not sent: stopping"));
            metrics::get("alerts-dropped").inc(static_cast<std::int64_t>(left));
            lock.lock();
            break;
        }
        Item item = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        try {
            send(item);
        } catch (const std::exception& e) {
            metrics::get("alerts-failed").inc();
            log::error(log::cat("alert: failed ", log_what(item.alert), ": internal error: ",
                                e.what()));
        }
        lock.lock();
        busy_ = false;
        idle_.notify_all();
    }
    stopped_ = true;
    idle_.notify_all();
}

void AlertSender::send(const Item& item) {
    const config::AlertsCfg& cfg = item.config->alerts;
    const ThresholdAlert& a = item.alert;
    auto now = clock_.wall();
    std::string message_id = log::cat(
        "mppd-alert.", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
                           .count(),
        ".", ::getpid(), ".", ++sequence_, "@", hostname_);
    mail::Message m = alert_message(a, cfg, hostname_, now, message_id);
    if (m.recipients.empty()) {
        metrics::get("alerts-failed").inc();
        log::warning(log::cat("alert: failed to=<> ", log_what(a),
                              ": no recipients (alert-to and <alerts to> are empty)"));
        return;
    }
    mail::Result r;
    if (!cfg.relay.empty()) {
        mail::SmtpOptions o;
        o.relay = cfg.relay;
        o.helo = hostname_;
        o.connect_timeout = options_.connect_timeout;
        o.timeout = options_.submit_timeout;
        o.cancel = &cancel_;
        r = mail::submit_smtp(m, o);
    } else {
        mail::SendmailOptions o;
        o.program = cfg.sendmail;
        o.timeout = options_.submit_timeout;
        o.cancel = &cancel_;
        r = mail::submit_sendmail(m, o);
    }
    if (r.ok()) {
        metrics::get("alerts-sent").inc();
        log::info(log::cat("alert: sent to=", log_to(m.recipients), " ", log_what(a)));
    } else {
        metrics::get("alerts-failed").inc();
        log::warning(log::cat("alert: failed to=", log_to(m.recipients), " ", log_what(a), ": ",
                              r.error));
    }
}

void AlertSender::close() {
    {
        std::unique_lock lock(mutex_);
        if (closing_) return;
        closing_ = true;
        wake_.notify_all();
        if (!idle_.wait_for(lock, options_.close_wait, [this] { return stopped_; }))
            cancel_.store(true);  // the submission in flight gives up; the rest is dropped
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool AlertSender::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return (queue_.empty() && !busy_) || stopped_; });
}

std::size_t AlertSender::rate_entries() const {
    std::lock_guard lock(mutex_);
    return rate_.size();
}

}  // namespace mpp::policy
