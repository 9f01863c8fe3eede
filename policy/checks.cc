// policy/checks.cc: the daemon's assembly of engine, tables and greylist (see checks.h).
#include "policy/checks.h"

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

EngineHooks hooks(Greylist& greylist) {
    EngineHooks h;
    h.greylist = [&greylist](const Transaction& t, const config::GreylistCfg& cfg, bool dry_run) {
        return greylist.check(t, cfg, dry_run).verdict;
    };
    return h;
}

}  // namespace

Checks::Checks(std::shared_ptr<const config::Config> config, const std::string& state_dir)
    : state_(clock_),
      greylist_(clock_, Greylist::Options{}, greylist_store(state_dir)),
      engine_(config, clock_, state_, hooks(greylist_)) {
    greylist_.load();  // logs what it found
}

void Checks::set_config(std::shared_ptr<const config::Config> config) {
    engine_.set_config(std::move(config));
}

}  // namespace mpp::policy
