// store/drainer.cc: the drain loop from the spool to a target (see drainer.h).
#include "store/drainer.h"

#include <algorithm>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::store {

Drainer::Drainer(Spool& spool, std::shared_ptr<Target> target, Settings settings)
    : spool_(spool), target_(std::move(target)), settings_(settings) {}

Drainer::~Drainer() { stop(); }

void Drainer::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void Drainer::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Drainer::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_all();
}

Drainer::Status Drainer::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

Drainer::Pass Drainer::drain_once() {
    Pass p;
    for (const auto& item : spool_.list(settings_.batch)) {
        {
            std::lock_guard lock(mutex_);
            if (stop_) break;  // stop() waits for this pass: end it early
        }
        std::string error;
        bool damaged = false;
        auto e = spool_.read(item.uuid, &error, &damaged);
        if (!e) {
            if (damaged) {
                spool_.set_aside(item.uuid, error);
                metrics::get("store-drain-set-aside").inc();
                ++p.set_aside;
            } else {
                ++p.failed;
                p.error = error;
            }
            continue;
        }
        if (target_->write(e->entry, *e->message, &error)) {
            spool_.remove(item.uuid);
            attempts_.erase(item.uuid);
            ++successes_;
            ++p.written;
            metrics::get("store-drained").inc();
            continue;
        }
        ++p.failed;
        p.error = error;
        metrics::get("store-drain-errors").inc();
        if (attempts_.size() >= kMaxTracked && !attempts_.count(item.uuid)) attempts_.clear();
        auto& a = attempts_[item.uuid];
        if (a.failures++ == 0) a.successes_before = successes_;
        if (a.failures >= settings_.poison_attempts && successes_ > a.successes_before) {
            spool_.set_aside(item.uuid, log::cat("the ", target_->name(), " target refused it ",
                                                 a.failures, " times while taking others: ",
                                                 error));
            attempts_.erase(item.uuid);
            metrics::get("store-drain-set-aside").inc();
            ++p.set_aside;
            continue;
        }
        // Two failures in a row with nothing written: the target is down; stop this pass.
        if (p.written == 0 && p.failed >= 2) break;
    }
    note(p);
    return p;
}

void Drainer::note(const Pass& p) {
    std::lock_guard lock(mutex_);
    status_.drained += p.written;
    const bool failing = p.written == 0 && p.failed > 0;
    if (failing && !status_.failing)
        log::warning(log::cat("store: writing spooled entries to ", target_->name(),
                              " fails: ", p.error, "; ", spool_.entries(),
                              " entries wait in the spool, retrying with backoff"));
    else if (!failing && status_.failing && p.written > 0)
        log::info(log::cat("store: writing to ", target_->name(), " works again; ",
                           spool_.entries(), " entries left in the spool"));
    if (failing) {
        status_.failing = true;
        status_.error = p.error;
        status_.backoff = status_.backoff.count() == 0
                              ? settings_.min_backoff
                              : std::min(settings_.max_backoff, status_.backoff * 2);
    } else if (p.written > 0 || p.failed == 0) {
        status_.failing = false;
        status_.error.clear();
        status_.backoff = std::chrono::milliseconds(0);
    }
}

void Drainer::run() {
    for (;;) {
        Pass p;
        try {
            p = drain_once();
        } catch (const std::exception& e) {
            log::error(log::cat("store: drainer: internal error: ", e.what()));
            p.failed = 1;
            note(p);
        }
        std::unique_lock lock(mutex_);
        if (stop_) return;
        if (status_.failing) {
            // Back off; a wake-up does not shorten it (the target is down).
            cv_.wait_for(lock, status_.backoff, [this] { return stop_; });
        } else if (p.written + p.set_aside == 0 || spool_.entries() == 0) {
            cv_.wait_for(lock, kIdlePoll, [this] { return stop_ || woken_; });
        }
        woken_ = false;
        if (stop_) return;
    }
}

}  // namespace mpp::store
