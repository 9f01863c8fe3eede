// engines/scan_runner.cc: parallel engine calls with bounds and a breaker (see scan_runner.h).
#include "engines/scan_runner.h"

#include <algorithm>
#include <thread>

#include "lib/log.h"
#include "lib/metrics.h"

namespace mpp::engines {

void EngineSet::add(const config::EngineCfg& cfg, std::unique_ptr<Engine> engine) {
    auto slot = std::make_unique<Slot>();
    slot->cfg = &cfg;
    slot->engine = std::move(engine);
    slots_[cfg.name] = std::move(slot);
}

const config::EngineCfg* EngineSet::config_of(const std::string& name) const {
    auto it = slots_.find(name);
    return it == slots_.end() ? nullptr : it->second->cfg;
}

bool EngineSet::down(const std::string& name) const {
    auto it = slots_.find(name);
    if (it == slots_.end()) return false;
    std::lock_guard lock(it->second->mutex);
    return it->second->open;
}

bool EngineSet::admit(Slot& s, EngineResult& out) {
    // Called with s.mutex held.
    if (!s.open) return true;
    if (!s.probing && clock_.steady() >= s.retry_at) {
        s.probing = true;  // this call is the probe
        return true;
    }
    out.status = EngineResult::Status::error;
    out.detail = log::cat("down since ", s.failures, " consecutive failures");
    return false;
}

void EngineSet::finish(Slot& s, const EngineResult& r, const std::string& queue_id) {
    // Called with s.mutex held.
    const bool failed = r.status == EngineResult::Status::error;
    const std::string& name = s.cfg->name;
    if (!failed) {
        if (s.open)
            log::write_qid(log::Level::info, queue_id,
                           log::cat("engine ", name, " is back after ", s.failures,
                                    " consecutive failures"));
        s.failures = 0;
        s.open = false;
        s.probing = false;
        return;
    }
    metrics::get("engine-errors").inc();
    ++s.failures;
    if (s.open) {  // the probe failed: wait another breaker-retry
        s.probing = false;
        s.retry_at = clock_.steady() + s.cfg->breaker_retry;
        return;
    }
    if (s.cfg->breaker_failures > 0 && s.failures >= s.cfg->breaker_failures) {
        s.open = true;
        s.retry_at = clock_.steady() + s.cfg->breaker_retry;
        metrics::get("engine-breaker-opened").inc();
        log::write_qid(log::Level::warning, queue_id,
                       log::cat("engine ", name, " is down: ", s.failures,
                                " consecutive failures, the last: ", r.detail,
                                "; calls go straight to on-error, next probe in ",
                                s.cfg->breaker_retry.count(), "s"));
    }
}

EngineResult EngineSet::run_one(Slot& s, const ScanMessage& msg) {
    EngineResult out;
    out.engine = s.cfg->name;
    const auto started = std::chrono::steady_clock::now();
    if (s.cfg->max_size > 0 && msg.size > s.cfg->max_size) {
        metrics::get("engine-skipped").inc();
        out.status = EngineResult::Status::skipped;
        out.detail = log::cat("larger than max-size ", s.cfg->max_size);
        return out;
    }
    const Deadline deadline = started + s.cfg->timeout;
    {
        std::unique_lock lock(s.mutex);
        if (!admit(s, out)) return out;
        const bool probe = s.open;
        if (!s.freed.wait_until(lock, deadline,
                                [&] { return s.running < s.cfg->connections; })) {
            if (probe) s.probing = false;
            out.status = EngineResult::Status::error;
            out.detail = "busy: no connection slot before the timeout";
            metrics::get("engine-errors").inc();
            return out;
        }
        ++s.running;
    }
    metrics::get("engine-calls").inc();
    EngineResult r = s.engine->scan(msg, deadline);
    r.engine = s.cfg->name;
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    {
        std::lock_guard lock(s.mutex);
        --s.running;
        finish(s, r, msg.queue_id);
    }
    s.freed.notify_one();
    return r;
}

std::vector<EngineResult> EngineSet::run(const std::vector<std::string>& names,
                                         const ScanMessage& msg) {
    std::vector<std::string> unique;
    for (const auto& n : names)
        if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(n);
    std::vector<EngineResult> results(unique.size());
    auto call = [&](std::size_t i) {
        auto it = slots_.find(unique[i]);
        if (it == slots_.end()) {
            results[i].engine = unique[i];
            results[i].status = EngineResult::Status::error;
            results[i].detail = "no such engine";
            return;
        }
        results[i] = run_one(*it->second, msg);
    };
    {
        std::vector<std::jthread> others;
        for (std::size_t i = 1; i < unique.size(); ++i) others.emplace_back(call, i);
        if (!unique.empty()) call(0);
    }  // joins
    return results;
}

}  // namespace mpp::engines
