// lib/config_holder.cc: reload of the live configuration snapshot (see config_holder.h).
#include "lib/config_holder.h"

namespace mpp::config {

ConfigHolder::ReloadResult ConfigHolder::reload(const std::string& path) {
    std::lock_guard lock(reload_mutex_);
    ReloadResult result;
    auto live = current();
    std::string source = path.empty() ? (live ? live->source : std::string()) : path;
    if (source.empty() || source == "-") {
        ++reload_failures_;
        result.revision = live ? live->revision : "";
        Diagnostic d;
        d.file = source.empty() ? "-" : source;
        d.message = "the configuration was read from standard input and can't be re-read; "
                    "restart mppd to change it";
        result.diagnostics.push_back(std::move(d));
        return result;
    }
    LoadResult loaded = load_file(source);
    result.diagnostics = std::move(loaded.diagnostics);
    if (!loaded.ok()) {
        ++reload_failures_;
        result.revision = live ? live->revision : "";
        return result;
    }
    result.ok = true;
    result.revision = loaded.config->revision;
    replace(std::move(loaded.config));
    ++reloads_;
    return result;
}

}  // namespace mpp::config
