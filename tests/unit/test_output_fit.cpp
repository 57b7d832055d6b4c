// Output record sizes (connectors/kafka/output_fit.h): every dead letter the
// engine builds fits the output limit, whatever the key, value and headers.
#include <gtest/gtest.h>

#include "connectors/kafka/output_fit.h"

using namespace fraud;

TEST(OutputFit, BudgetIsTheSmallerLimitLessFraming) {
  EXPECT_EQ(output_record_budget(1'000'000, 0), 1'000'000 - kRecordFraming);
  EXPECT_EQ(output_record_budget(1'000'000, 500'000), 500'000 - kRecordFraming);
  EXPECT_EQ(output_record_budget(1'000'000, 2'000'000), 1'000'000 - kRecordFraming);
}

TEST(OutputFit, ARecordThatFitsIsKeptWhole) {
  DeadLetterCut c = cut_dead_letter(10'000, 100, 5'000, 1'000, 500);
  EXPECT_EQ(c.key_len, 100u);
  EXPECT_EQ(c.value_len, 5'000u);
  EXPECT_TRUE(c.keep_original_headers);
  EXPECT_FALSE(c.key_cut);
  EXPECT_FALSE(c.value_cut);
}

TEST(OutputFit, TheValueIsCutFirstWhenKeyAndHeadersFit) {
  DeadLetterCut c = cut_dead_letter(10'000, 100, 50'000, 1'000, 500);
  EXPECT_TRUE(c.keep_original_headers);
  EXPECT_EQ(c.key_len, 100u);
  EXPECT_TRUE(c.value_cut);
  EXPECT_EQ(c.value_len, 10'000u - 100 - 1'000 - 500);
}

TEST(OutputFit, HugeHeadersAreDroppedThenAHugeKeyIsCut) {
  DeadLetterCut h = cut_dead_letter(10'000, 100, 50, 20'000, 500);
  EXPECT_FALSE(h.keep_original_headers);
  EXPECT_FALSE(h.key_cut);
  EXPECT_FALSE(h.value_cut);
  DeadLetterCut k = cut_dead_letter(10'000, 1'200'000, 50, 0, 500);
  EXPECT_TRUE(k.key_cut);
  EXPECT_EQ(k.key_len, kMaxCutKeyBytes);
  EXPECT_EQ(k.value_len, 50u);
}

TEST(OutputFit, EveryCutFitsTheBudget) {
  const std::size_t budget = 100'000;
  for (std::size_t key : {0ul, 10ul, 5'000ul, 99'000ul, 3'000'000ul}) {
    for (std::size_t value : {0ul, 1ul, 90'000ul, 200'000ul}) {
      for (std::size_t headers : {0ul, 50ul, 99'999ul, 5'000'000ul}) {
        DeadLetterCut c = cut_dead_letter(budget, key, value, headers, 800);
        std::size_t h = (c.keep_original_headers ? headers : 0) + 800;
        EXPECT_TRUE(record_fits(budget, c.key_len, c.value_len, h)) << key << " " << value << " " << headers;
        EXPECT_LE(c.key_len, key);
        EXPECT_LE(c.value_len, value);
        EXPECT_EQ(c.key_cut, c.key_len < key);
        EXPECT_EQ(c.value_cut, c.value_len < value);
      }
    }
  }
}
