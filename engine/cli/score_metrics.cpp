#include "engine/cli/score_metrics.h"

#include <algorithm>

namespace fraud {

namespace {

void sort_descending(std::span<ScoredLabel> rows) {
  std::sort(rows.begin(), rows.end(), [](const ScoredLabel& a, const ScoredLabel& b) { return a.score > b.score; });
}

std::size_t positives(std::span<const ScoredLabel> rows) {
  return static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.positive; }));
}

}  // namespace

double pr_auc(std::span<ScoredLabel> rows) {
  sort_descending(rows);
  const std::size_t p = positives(rows);
  if (p == 0) return 0;
  double ap = 0;
  std::size_t tp = 0, seen = 0;
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i, group_tp = 0;
    for (; j < rows.size() && rows[j].score == rows[i].score; ++j) group_tp += rows[j].positive;
    tp += group_tp;
    seen = j;
    ap += static_cast<double>(group_tp) / static_cast<double>(p) * static_cast<double>(tp) / static_cast<double>(seen);
    i = j;
  }
  return ap;
}

double roc_auc(std::span<ScoredLabel> rows) {
  sort_descending(rows);
  const std::size_t p = positives(rows), n = rows.size() - p;
  if (p == 0 || n == 0) return 0;
  // Pairs (positive, negative) ordered right, ties counting a half.
  double wins = 0;
  std::size_t negatives_below = n;
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i, group_p = 0, group_n = 0;
    for (; j < rows.size() && rows[j].score == rows[i].score; ++j) (rows[j].positive ? group_p : group_n)++;
    negatives_below -= group_n;
    wins += static_cast<double>(group_p) * (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(group_n));
    i = j;
  }
  return wins / (static_cast<double>(p) * static_cast<double>(n));
}

ThresholdFigures at_threshold(std::span<const ScoredLabel> rows, double threshold) {
  ThresholdFigures f;
  const std::size_t p = positives(rows);
  for (const auto& r : rows) {
    if (r.score < threshold) continue;
    ++f.flagged;
    f.true_positives += r.positive;
  }
  f.precision = f.flagged ? static_cast<double>(f.true_positives) / static_cast<double>(f.flagged) : 0;
  f.recall = p ? static_cast<double>(f.true_positives) / static_cast<double>(p) : 0;
  return f;
}

}  // namespace fraud
