// store/store.cc: the daemon's store object (see store.h).
#include "store/store.h"

#include <algorithm>

#include "lib/log.h"
#include "store/maildir.h"

namespace mpp::store {

Store::Settings Store::settings_from(const config::Config& cfg) {
    Settings s;
    s.spool_dir = cfg.store.spool;
    if (cfg.store.spool_high_water > 0) s.limits.max_bytes = cfg.store.spool_high_water;
    if (cfg.store.spool_max_entries > 0)
        s.limits.max_entries = static_cast<std::uint64_t>(cfg.store.spool_max_entries);
    if (!cfg.store.release_sendmail.empty()) s.release.sendmail = cfg.store.release_sendmail;
    s.release.relay = cfg.store.release_relay;
    if (cfg.store.tracking != config::Tracking::none && cfg.store.database.empty() &&
        cfg.store.forward.empty())
        s.tracking_log = cfg.daemon.state_dir + "/tracking.log";
    s.tracking_full = cfg.store.tracking == config::Tracking::full;
    return s;
}

Store::Store(Private, Settings settings) : settings_(std::move(settings)) {}

Store::~Store() {
    if (drainer_) drainer_->stop();
}

std::unique_ptr<Store> Store::open(Settings settings, std::shared_ptr<Target> target,
                                   QueryFactory query, std::string* error) {
    auto store = std::make_unique<Store>(Private{}, settings);
    store->spool_ = Spool::open(settings.spool_dir, settings.limits, error);
    if (!store->spool_) return nullptr;
    if (!settings.tracking_log.empty()) {
        TrackingLog::Settings t;
        t.path = settings.tracking_log;
        t.full = settings.tracking_full;
        store->tracking_ = TrackingLog::open(t, error);
        if (!store->tracking_) return nullptr;
    }
    store->target_ = std::move(target);
    store->query_ = std::move(query);
    store->drainer_ = std::make_unique<Drainer>(*store->spool_, store->target_, settings.drain);
    store->drainer_->start();
    return store;
}

std::unique_ptr<Store> Store::open_maildir(const config::Config& cfg, std::string* error) {
    MaildirStore::Settings m;
    m.path_template = cfg.store.maildir;
    m.index_path = cfg.daemon.state_dir + "/maildir.index";
    std::shared_ptr<MaildirStore> maildir = MaildirStore::open(m, error);
    if (!maildir) return nullptr;
    return open(settings_from(cfg), maildir,
                [maildir](std::string*) -> std::shared_ptr<Query> { return maildir; }, error);
}

PutResult Store::put(Entry entry, engines::MessageReader& message) {
    PutResult r = spool_->put(std::move(entry), message);
    if (r.ok()) drainer_->wake();
    return r;
}

std::string Store::quarantine(
    const Entry& entry, const std::function<std::unique_ptr<engines::MessageReader>()>& open) {
    auto reader = open ? open() : nullptr;
    if (!reader) return "store: no reader for the message";
    PutResult r = put(entry, *reader);
    return r.ok() ? std::string() : r.error;
}

void Store::track(const TrackingRecord& record) {
    if (tracking_) tracking_->write(record);
}

ReleaseResult Store::release(const ReleaseRequest& request) {
    ReleaseSettings settings;
    {
        std::lock_guard lock(mutex_);
        settings = settings_.release;
    }
    std::string error;
    auto q = query(&error);
    if (!q) {
        ReleaseResult r;
        r.error = error;
        return r;
    }
    ReleaseResult r = store::release(*q, request, settings);
    if (r.ok()) {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        std::erase_if(released_, [&](const auto& kv) { return now - kv.second > kReleasedFor; });
        while (released_.size() >= kMaxReleased) {
            auto oldest = std::min_element(released_.begin(), released_.end(),
                                           [](const auto& a, const auto& b) {
                                               return a.second < b.second;
                                           });
            released_.erase(oldest);
        }
        released_[request.uuid] = now;
    }
    return r;
}

bool Store::released(std::string_view uuid) const {
    std::lock_guard lock(mutex_);
    auto it = released_.find(uuid);
    return it != released_.end() && std::chrono::steady_clock::now() - it->second <= kReleasedFor;
}

std::shared_ptr<Query> Store::query(std::string* error) const {
    if (!query_) {
        if (error) *error = "this store answers no queries";
        return nullptr;
    }
    return query_(error);
}

std::vector<std::string> Store::status() const {
    std::vector<std::string> lines;
    lines.push_back(log::cat("spool: ", spool_->dir(), " ", spool_->entries(), " entries, ",
                             spool_->bytes(), " bytes"));
    auto d = drainer_->status();
    lines.push_back(log::cat("drain: ", drainer_->target_name(), " ",
                             d.failing ? "failing (retry in " + std::to_string(d.backoff.count()) +
                                             "ms): " + d.error
                                       : std::string("ok"),
                             ", ", d.drained, " drained since start"));
    return lines;
}

void Store::set_config(const config::Config& cfg) {
    Settings s = settings_from(cfg);
    spool_->set_limits(s.limits);
    if (tracking_) tracking_->set_full(s.tracking_full);
    std::lock_guard lock(mutex_);
    settings_.release = s.release;
}

}  // namespace mpp::store
