#include "connectors/redis/window_codec.h"

#include <algorithm>
#include <limits>

#include "connectors/redis/msgpack_lite.h"

namespace fraud {

void encode_window_state(const WindowState& s, const FeatureDef& f, std::string& out) {
  const std::int64_t keep = s.newest == INT64_MIN ? INT64_MIN : s.newest - f.kept_buckets() + 1;
  auto first_kept =
      std::find_if(s.buckets.begin(), s.buckets.end(), [&](const WindowBucket& b) { return b.bucket >= keep; });
  std::uint32_t items = 2 + 2 * static_cast<std::uint32_t>(s.applied.size());
  if (f.agg == Aggregation::kDistinct) {
    if (s.distinct) {
      for (const auto& [value, bs] : *s.distinct) {
        auto kept = static_cast<std::uint32_t>(bs.end() - std::lower_bound(bs.begin(), bs.end(), keep));
        if (kept) items += 2 + kept;
      }
    }
  } else {
    items += static_cast<std::uint32_t>(s.buckets.end() - first_kept) * (f.agg == Aggregation::kCount ? 2 : 6);
  }
  msgpack::write_array_header(out, items);
  msgpack::write_int(out, s.newest == INT64_MIN ? 0 : s.newest);
  msgpack::write_int(out, static_cast<std::int64_t>(s.applied.size()));
  for (const auto& [p, o] : s.applied) {
    msgpack::write_int(out, p);
    msgpack::write_int(out, o);
  }
  if (f.agg == Aggregation::kDistinct) {
    if (!s.distinct) return;
    for (const auto& [value, bs] : *s.distinct) {
      auto from = std::lower_bound(bs.begin(), bs.end(), keep);
      if (from == bs.end()) continue;
      msgpack::write_str(out, value);
      msgpack::write_int(out, bs.end() - from);
      for (auto it = from; it != bs.end(); ++it) msgpack::write_int(out, *it);
    }
    return;
  }
  for (auto it = first_kept; it != s.buckets.end(); ++it) {
    msgpack::write_int(out, it->bucket);
    msgpack::write_int(out, it->count);
    if (f.agg == Aggregation::kCount) continue;
    msgpack::write_int(out, it->numeric);
    msgpack::write_number(out, it->sum);
    // The script keeps 0 for min/max while a bucket has no number.
    msgpack::write_number(out, it->numeric ? it->min : 0);
    msgpack::write_number(out, it->numeric ? it->max : 0);
  }
}

bool decode_window_state(std::string_view body, const FeatureDef& f, WindowState& s) {
  window_clear(s);
  msgpack::Reader in(body);
  auto items = in.array_header();
  if (!items || *items < 2) return false;
  std::uint32_t left = *items;
  auto number = [&](double& v) {
    if (left == 0) return false;
    auto x = in.scalar();
    if (!x || x->kind != msgpack::Scalar::kNumber) return false;
    --left;
    v = x->number;
    return true;
  };
  auto integer = [&](std::int64_t& v) {
    double d = 0;
    if (!number(d)) return false;
    v = static_cast<std::int64_t>(d);
    return static_cast<double>(v) == d;
  };
  std::int64_t newest = 0, np = 0;
  if (!integer(newest) || !integer(np) || np < 0) return false;
  s.newest = newest;
  for (std::int64_t i = 0; i < np; ++i) {
    std::int64_t p = 0, o = 0;
    if (!integer(p) || !integer(o)) return false;
    s.applied.emplace_back(static_cast<std::int32_t>(p), o);
  }
  if (f.agg == Aggregation::kDistinct) {
    while (left > 0) {
      auto value = in.scalar();
      if (!value || value->kind != msgpack::Scalar::kString) return false;
      --left;
      std::int64_t nb = 0;
      if (!integer(nb) || nb <= 0) return false;
      std::vector<std::int64_t> bs(static_cast<std::size_t>(nb));
      for (auto& b : bs) {
        if (!integer(b)) return false;
      }
      std::sort(bs.begin(), bs.end());
      if (!s.distinct) s.distinct = std::make_unique<WindowState::DistinctValues>();
      s.distinct->emplace(std::string(value->text), std::move(bs));
    }
    return in.at_end();
  }
  while (left > 0) {
    WindowBucket b{0, 0, 0, 0, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
    std::int64_t count = 0;
    if (!integer(b.bucket) || !integer(count)) return false;
    b.count = static_cast<std::uint32_t>(count);
    if (f.agg != Aggregation::kCount) {
      std::int64_t numeric = 0;
      double mn = 0, mx = 0;
      if (!integer(numeric) || !number(b.sum) || !number(mn) || !number(mx)) return false;
      b.numeric = static_cast<std::uint32_t>(numeric);
      if (b.numeric) {
        b.min = mn;
        b.max = mx;
      }
    }
    s.buckets.push_back(b);
  }
  // The script writes buckets in hash order.
  std::sort(s.buckets.begin(), s.buckets.end(),
            [](const WindowBucket& a, const WindowBucket& b) { return a.bucket < b.bucket; });
  return in.at_end();
}

}  // namespace fraud
