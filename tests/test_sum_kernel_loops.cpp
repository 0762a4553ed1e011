// SPDX-License-Identifier: MIT
// Proves the range kernel, the vector-add bound and the slowdown hook really loop: their time
// grows linearly with the work (a closed form would not), and their answers are right.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sum/kernel.h"

namespace concbench::sum {
namespace {

// The seconds of one call of `call(n)`, which checks its own answer.
template <typename Call>
double seconds(const Call& call, int64_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  call(n);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The fastest call at each size (noise only ever adds time), the two sizes in alternation:
// beside busy MPI tests, every one of 15 calls of 2e6 in a row ran 4x slower while the 64e6
// calls timed after them did not, and the ratio read 7.7-7.96. Alternating, a slow stretch
// slows both. Warmed up first: the code paged in, the clock risen.
template <typename Call>
std::pair<double, double> fastest(const Call& call, int64_t small, int64_t large) {
  for (int r = 0; r < 3; ++r) seconds(call, small);
  double t_small = 1e9, t_large = 1e9;
  for (int r = 0; r < 8; ++r) {
    t_small = std::min({t_small, seconds(call, small), seconds(call, small)});
    t_large = std::min(t_large, seconds(call, large));
  }
  return {t_small, t_large};
}

TEST(SumRangeKernel, TimeGrowsLinearlyWithN) {
  // 32x more integers must take clearly longer. A folded loop takes the same few nanoseconds
  // for any n (ratio near 1); a real loop gives a ratio near 32. The bound of 8 leaves room for
  // a noisy machine without letting a closed form through.
  const int64_t small = 8'000'000, large = 256'000'000;
  const auto [t_small, t_large] = fastest([](int64_t n) {
    volatile int64_t s = sum_range(0, n);
    EXPECT_EQ(s, exact_sum(n));
  }, small, large);
  const double ratio = t_large / t_small;
  RecordProperty("ratio", std::to_string(ratio));
  EXPECT_GT(ratio, 8.0) << "sum_range(0, " << large << ") took " << t_large << " s, sum_range(0, "
                        << small << ") took " << t_small << " s: the loop was folded";
  // A real loop also has a physical floor. Each 8 integers cost two 8-lane vector adds (one
  // for the value, one to step the index), so 256 integers per nanosecond would need 64 vector
  // adds per nanosecond: 8 vector ALUs at 8 GHz, beyond any CPU.
  EXPECT_GT(t_large, static_cast<double>(large) / 256e9);
}

// peak/vector_add's adds_per_second counts kPeakChains vector adds a round. Every lane of every
// chain ends at `rounds`, so the answer catches a chain or a round left out (not one folded into
// a multiply, which gives the same answer), and the time must grow with the rounds as the range
// sum's does, which catches the loop folded away.
TEST(VectorAddPeak, DoesEveryAddItsRateCounts) {
  for (int64_t rounds : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{1} << 20})
    EXPECT_EQ(vector_add_peak(rounds), rounds * kPeakChains * kernel_lanes()) << rounds;
  const int64_t small = int64_t{1} << 18, large = int64_t{1} << 23;
  const auto [t_small, t_large] = fastest([](int64_t rounds) {
    volatile int64_t s = vector_add_peak(rounds);
    EXPECT_EQ(s, rounds * kPeakChains * kernel_lanes());
  }, small, large);
  const double ratio = t_large / t_small;
  RecordProperty("ratio", std::to_string(ratio));
  EXPECT_GT(ratio, 8.0) << large << " rounds took " << t_large << " s, " << small << " took " << t_small << " s";
  // A floor as above: 12 vector adds a round, at most 64 a nanosecond.
  EXPECT_GT(t_large, static_cast<double>(large) * kPeakChains / 64e9);
}

// The calibration's planted slowdown (CONCBENCH_TEST_SLOWDOWN) does the work it reports: a
// slice summed whole a second time (repeat 1) takes about twice as long. The models' tests
// see only the count it reports (SumModels.TheSlowdownHook...), which a hook that counted and
// skipped the work would also report, and the calibration's figures would then be of nothing.
TEST(SlowdownHook, DoesTheWorkItCounts) {
  const int64_t n = 32'000'000;
  const auto [t_plain, t_again] = fastest([](int64_t again) {
    int64_t repeated = 0;
    volatile int64_t s = sum_slice(Problem{Kernel::range, n, nullptr, static_cast<double>(again)}, 0, n, &repeated);
    EXPECT_EQ(s, exact_sum(n));
    EXPECT_EQ(repeated, again * n);
  }, 0, 1);
  const double ratio = t_again / t_plain;
  RecordProperty("ratio", std::to_string(ratio));
  EXPECT_GT(ratio, 1.5) << "the slice summed again took " << t_again << " s, once " << t_plain << " s";
}

}  // namespace
}  // namespace concbench::sum
