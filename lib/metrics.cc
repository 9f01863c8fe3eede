// lib/metrics.cc: the metrics registry (see metrics.h).
#include "lib/metrics.h"

#include <map>
#include <memory>
#include <mutex>

namespace mpp::metrics {
namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, std::unique_ptr<Metric>> metrics;  // node-based: references stay valid
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

Metric& get(const std::string& name) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto& slot = r.metrics[name];
    if (!slot) slot = std::make_unique<Metric>();
    return *slot;
}

std::vector<std::pair<std::string, std::int64_t>> snapshot() {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<std::pair<std::string, std::int64_t>> out;
    out.reserve(r.metrics.size());
    for (const auto& [name, m] : r.metrics) out.emplace_back(name, m->get());
    return out;
}

}  // namespace mpp::metrics
