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

EngineHooks hooks(Greylist& greylist, AlertSender& alerts, RblChecker& rbl) {
    EngineHooks h;
    h.rbl = [&rbl](const config::Config& cfg, const config::GroupCfg& g, const Transaction& t) {
        return rbl.check(cfg, g, t);
    };
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
      rbl_(
          [this](const std::vector<dns::Question>& qs, std::chrono::milliseconds wait) {
              if (auto r = resolver()) return r->lookup_all(qs, wait);
              return std::vector<dns::Answer>(qs.size());  // Status::error: not listed
          },
          clock_),
      engine_(config, clock_, state_, hooks(greylist_, alerts_, rbl_)),
      snapshots_(state_dir, clock_, state_.blocks, state_.thresholds) {
    set_resolver(config ? config->dns : config::DnsCfg{});
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
    if (config) set_resolver(config->dns);
    engine_.set_config(std::move(config));
}

std::shared_ptr<dns::Resolver> Checks::resolver() const {
    std::lock_guard lock(resolver_mutex_);
    return resolver_;
}

void Checks::set_resolver(const config::DnsCfg& d) {
    {
        std::lock_guard lock(resolver_mutex_);
        if (resolver_cfg_ && resolver_cfg_->resolver == d.resolver &&
            resolver_cfg_->timeout == d.timeout && resolver_cfg_->attempts == d.attempts &&
            resolver_cfg_->max_inflight == d.max_inflight &&
            resolver_cfg_->cache_entries == d.cache_entries)
            return;
    }
    dns::Resolver::Options o;
    o.servers = d.resolver;
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(d.timeout);
    o.attempts = d.attempts;
    o.max_inflight = d.max_inflight;
    o.cache_entries = static_cast<std::size_t>(d.cache_entries);
    std::string error;
    std::shared_ptr<dns::Resolver> r = dns::Resolver::create(o, clock_, &error);
    if (!r) log::error(log::cat(error, "; RBL lookups count nothing until a reload fixes it"));
    std::shared_ptr<dns::Resolver> old;
    {
        std::lock_guard lock(resolver_mutex_);
        old = std::move(resolver_);
        resolver_ = std::move(r);
        resolver_cfg_ = d;
    }
    // `old` ends here, outside the lock; a call still holding it keeps it until it returns.
}

}  // namespace mpp::policy
