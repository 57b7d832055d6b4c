// Ranking quality of a score against labels: PR-AUC (average precision),
// ROC-AUC, and precision/recall at a threshold; tied scores are one step
// (no credit from the order of equal scores). Used by `train` and the
// backtest.
#pragma once

#include <cstddef>
#include <span>

namespace fraud {

struct ScoredLabel {
  double score = 0;
  bool positive = false;
};

struct ThresholdFigures {
  std::size_t flagged = 0, true_positives = 0;
  double precision = 0, recall = 0;
};

// Sorts `rows` by score (descending) in place.
double pr_auc(std::span<ScoredLabel> rows);
double roc_auc(std::span<ScoredLabel> rows);
// Flagged: score >= threshold.
ThresholdFigures at_threshold(std::span<const ScoredLabel> rows, double threshold);

}  // namespace fraud
