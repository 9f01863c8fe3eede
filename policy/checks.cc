// policy/checks.cc: the daemon's assembly of engine, tables and greylist (see checks.h).
#include "policy/checks.h"

#include <pthread.h>
#include <signal.h>

#include "lib/log.h"

namespace mpp::policy {
namespace {

std::unique_ptr<GreylistStore> greylist_store(const std::string& state_dir) {
    if (state_dir.empty()) {
        log::warning("greylist: no state directory; greylist entries are lost at restart");
        return nullptr;
    }
    return std::make_unique<FileGreylistStore>(state_dir);
}

EngineHooks hooks(Greylist& greylist, AlertSender& alerts) {
    EngineHooks h;
    h.greylist = [&greylist](const Transaction& t, const config::GreylistCfg& cfg, bool dry_run) {
        return greylist.check(t, cfg, dry_run).verdict;
    };
    h.alert = [&alerts](const ThresholdAlert& a) { alerts.post(a); };
    return h;
}

}  // namespace

Checks::Checks(std::shared_ptr<const config::Config> config, const std::string& state_dir,
               std::chrono::seconds maintain_every)
    : state_(clock_),
      greylist_(clock_, Greylist::Options{}, greylist_store(state_dir)),
      alerts_(clock_, [this] { return engine_.config(); }),
      engine_(config, clock_, state_, hooks(greylist_, alerts_)),
      snapshots_(state_dir, clock_, state_.blocks, state_.thresholds) {
    greylist_.load();  // logs what it found
    snapshots_.load();
    maintainer_ = std::thread([this, maintain_every] {
        // Signals are the main thread's business (see milter/milter_runner.h).
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        std::unique_lock lock(maintain_mutex_);
        while (!maintain_wake_.wait_for(lock, maintain_every, [this] { return closing_; })) {
            lock.unlock();
            try {
                greylist_.maintain();
                snapshots_.save();
            } catch (const std::exception& e) {
                log::error(log::cat("greylist maintenance: internal error: ", e.what()));
            }
            lock.lock();
        }
    });
}

Checks::~Checks() { close(); }

void Checks::close() {
    {
        std::lock_guard lock(maintain_mutex_);
        if (closing_) return;
        closing_ = true;
    }
    maintain_wake_.notify_all();
    if (maintainer_.joinable()) maintainer_.join();
    alerts_.close();
    greylist_.maintain();
    snapshots_.save();
}

void Checks::set_config(std::shared_ptr<const config::Config> config) {
    engine_.set_config(std::move(config));
}

}  // namespace mpp::policy
