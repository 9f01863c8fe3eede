// lib/metrics.h: process-wide counters and gauges ("milter-connections", "reload-failures"...).
//
// State: one registry (one of the three allowed globals), created on first use. A metric is
// registered once by name and then updated lock-free through the reference returned, from any
// thread. `mppctl status` lists them all in name order. Bounded by the code: names are string
// literals chosen by mppd, never derived from input.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mpp::metrics {

// A counter only grows; a gauge goes up and down (sessions in flight).
struct Metric {
    std::atomic<std::int64_t> value{0};
    void inc(std::int64_t by = 1) { value.fetch_add(by, std::memory_order_relaxed); }
    void dec(std::int64_t by = 1) { value.fetch_sub(by, std::memory_order_relaxed); }
    std::int64_t get() const { return value.load(std::memory_order_relaxed); }
};

// The metric of that name, created at 0 on first use. The reference stays valid for the life of
// the process.
Metric& get(const std::string& name);

// (name, value) of every metric, sorted by name.
std::vector<std::pair<std::string, std::int64_t>> snapshot();

}  // namespace mpp::metrics
