// engine/run/clock.h — time for the run core: now, sleeping, and the wall clock. The
// planned run waits (retries' backoff, restarted nodes) only through a Clock, so its tests
// run on a fake one that advances when slept on, without real sleeps.
#pragma once

#include <chrono>
#include <cstdint>

namespace converge {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  /// Monotonic now.
  [[nodiscard]] virtual time_point now() const = 0;
  /// Blocks for `d` (a fake advances its time instead).
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
  /// Seconds since the Unix epoch (recorded in the journal, compared across runs).
  [[nodiscard]] virtual std::int64_t unix_seconds() const = 0;
};

/// The machine's clocks: steady_clock, this_thread::sleep_for, system_clock. Thread-safe.
[[nodiscard]] Clock& system_clock();

}  // namespace converge
