// SyntheticStream: a seeded generator of realistic micro-lending traffic for
// the demo, benchmarks and tests. Pure: no clock, no I/O; event time starts
// at `start_ms` and advances by `step_ms` per event on average.
//
// Normal borrowers apply (plain loans and invoice financing), get disbursed,
// repay and withdraw modest sums. Mixed in at `fraud_share`:
//   device farms (one device, many ID numbers), loan stacking (one ID number
//   applying again and again, rotating phones), cash-out (most of a fresh
//   disbursement withdrawn within hours), duplicate invoices (one invoice
//   financed by several shell companies), application bursts from one IP,
//   structuring just below the 200,000 auto-approval limit, blocked devices,
//   high-risk regions, and synthetic identities: one application each, no
//   velocity or list signal, only a young phone number, a fresh device, a
//   web or API channel and a large amount together, each of which alone is
//   common among honest applicants (what a model learns and a threshold
//   cannot).
// Applications carry `channel` and `applicant` {phone_age_days,
// device_age_days, monthly_income}.
// Every event carries `label` (1 for events produced by a fraud pattern) so
// backtests have ground truth. `hot_key_share` routes that share of events
// to one device and one ID number (the hot-key attack benchmark).
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace fraud {

struct SyntheticOptions {
  std::uint64_t seed = 42;
  std::int64_t start_ms = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
  std::int64_t step_ms = 50;
  double fraud_share = 0.04;
  double hot_key_share = 0.0;
  std::uint32_t customers = 200'000;
};

class SyntheticStream {
 public:
  explicit SyntheticStream(SyntheticOptions options);

  // Appends the next event's JSON (no newline) to `out`; returns its key
  // (the customer id, used as the Kafka message key).
  std::string next(std::string& out);
  std::uint64_t produced() const { return n_; }

 private:
  struct Pattern;
  std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::string emit(std::string& out, const char* type, const std::string& customer, bool fraud,
                   const std::string& body);
  std::string normal(std::string& out);
  std::string fraud(std::string& out);

  SyntheticOptions opt_;
  std::mt19937_64 rng_;
  std::int64_t now_ms_;
  std::uint64_t n_ = 0;
  // State of the pattern in progress (a ring emits several related events).
  int pattern_ = -1;
  int pattern_left_ = 0;
  std::uint64_t pattern_id_ = 0;
  std::int64_t pattern_amount_ = 0;
};

}  // namespace fraud
