// Clock: the time the pipeline and its connectors see, injected so tests can
// drive it. The engine's own decisions use event time (RULES.md); this clock
// only paces batching, retries, heartbeats and latency figures.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace fraud {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t steady_ms() const = 0;  // monotonic, for deadlines and heartbeats
  virtual std::int64_t wall_ms() const = 0;    // ms since the epoch, for latency against record timestamps
  virtual void sleep_ms(int ms) = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_ms(int ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }
};

// Time moves only when told (or by sleeping, which moves it at once).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'772'323'200'000) : now_(start_ms) {}
  std::int64_t steady_ms() const override { return now_.load(); }
  std::int64_t wall_ms() const override { return now_.load(); }
  void sleep_ms(int ms) override {
    now_.fetch_add(ms);
    std::this_thread::yield();
  }
  void advance(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace fraud
