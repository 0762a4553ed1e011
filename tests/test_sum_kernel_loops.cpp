// SPDX-License-Identifier: MIT
// Proves the range kernel really loops: its time grows linearly with n (a closed form would not).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "sum/kernel.h"

namespace concbench::sum {
namespace {

// The fastest of several runs: noise on a shared machine only ever adds time, so the minimum
// is the steadiest estimate of what the code itself costs.
double min_seconds(int64_t n, int runs) {
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    volatile int64_t s = sum_range(0, n);
    auto t1 = std::chrono::steady_clock::now();
    EXPECT_EQ(s, exact_sum(n));
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

TEST(SumRangeKernel, TimeGrowsLinearlyWithN) {
  // 32x more integers must take clearly longer. A folded loop takes the same few nanoseconds
  // for any n (ratio near 1); a real loop gives a ratio near 32. The bound of 8 leaves room for
  // a noisy machine without letting a closed form through.
  const int64_t small = 2'000'000, large = 64'000'000;
  min_seconds(small, 3);  // warm up: page in the code, let the clock rise
  double t_small = min_seconds(small, 15);
  double t_large = min_seconds(large, 7);
  double ratio = t_large / t_small;
  RecordProperty("ratio", std::to_string(ratio));
  EXPECT_GT(ratio, 8.0) << "sum_range(0, " << large << ") took " << t_large << " s, sum_range(0, "
                        << small << ") took " << t_small << " s: the loop was folded";
  // A real loop also has a physical floor. Each 8 integers cost two 8-lane vector adds (one
  // for the value, one to step the index), so 256 integers per nanosecond would need 64 vector
  // adds per nanosecond: 8 vector ALUs at 8 GHz, beyond any CPU.
  EXPECT_GT(t_large, static_cast<double>(large) / 256e9);
}

}  // namespace
}  // namespace concbench::sum
