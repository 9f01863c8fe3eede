// lib/clock.h: time as a seam. Durations and expiry use the monotonic clock (immune to NTP
// steps, RELIABILITY F14); what is persisted or shown to people uses wall time. Tables take a
// Clock& so tests advance minutes and days without sleeping (FakeClock).
#pragma once

#include <chrono>
#include <mutex>

namespace mpp {

class Clock {
public:
    virtual ~Clock() = default;
    virtual std::chrono::steady_clock::time_point steady() const = 0;
    virtual std::chrono::system_clock::time_point wall() const = 0;
};

// The real clocks.
class SystemClock final : public Clock {
public:
    std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::now();
    }
    std::chrono::system_clock::time_point wall() const override {
        return std::chrono::system_clock::now();
    }
};

// A clock that moves only when told to (tests). Thread-safe.
class FakeClock final : public Clock {
public:
    FakeClock()
        : steady_(std::chrono::steady_clock::time_point{} + std::chrono::hours(24)),
          wall_(std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50)) {}
    std::chrono::steady_clock::time_point steady() const override {
        std::lock_guard lock(mutex_);
        return steady_;
    }
    std::chrono::system_clock::time_point wall() const override {
        std::lock_guard lock(mutex_);
        return wall_;
    }
    // Both clocks move forward by `d`.
    void advance(std::chrono::steady_clock::duration d) {
        std::lock_guard lock(mutex_);
        steady_ += d;
        wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    }
    // Only the wall clock jumps (an NTP step), by `d` (may be negative).
    void step_wall(std::chrono::system_clock::duration d) {
        std::lock_guard lock(mutex_);
        wall_ += d;
    }

private:
    mutable std::mutex mutex_;
    std::chrono::steady_clock::time_point steady_;
    std::chrono::system_clock::time_point wall_;
};

}  // namespace mpp
