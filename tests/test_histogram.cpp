// SPDX-License-Identifier: MIT
// Tests for the latency histogram: every value lands in a bucket that holds it, buckets are
// narrow enough, percentiles agree with exact nearest-rank percentiles of the raw samples
// (synthetic here; latencies measured from the fixture in test_fetch_models.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/histogram.h"

namespace concbench {
namespace {

// The exact nearest-rank percentile of raw samples: what the histogram approximates. The rank
// in whole numbers (p in hundredths of a percent), not in doubles, where 99.9 / 100 * 1000
// rounds above 999.
uint64_t exact_percentile(std::vector<uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const uint64_t hundredths = static_cast<uint64_t>(std::llround(p * 100));
  const auto rank = std::max<uint64_t>(1, (hundredths * v.size() + 9999) / 10000);
  return v[rank - 1];
}

constexpr double kPercentiles[] = {1, 10, 50, 90, 99, 99.9, 99.99, 100};

void expect_close_to_exact(const std::vector<uint64_t>& samples, double tolerance) {
  Histogram h;
  for (uint64_t v : samples) h.record(v);
  ASSERT_EQ(h.count(), samples.size());
  for (double p : kPercentiles) {
    const double exact = static_cast<double>(exact_percentile(samples, p));
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_LE(std::abs(got - exact), tolerance * exact + 0.5) << "p" << p << ": " << got << " vs " << exact;
  }
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.min(), *std::min_element(samples.begin(), samples.end()));
}

TEST(Histogram, EveryValueLandsInABucketThatHoldsIt) {
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < 5000; ++v) values.push_back(v);
  for (int e = 8; e < 64; ++e) {
    const uint64_t p = uint64_t{1} << e;
    for (uint64_t d : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
      values.push_back(p + d);
      values.push_back(p - 1 - d);
    }
    values.push_back(p + p / 3);
  }
  values.push_back(UINT64_MAX);
  size_t previous = 0;
  std::sort(values.begin(), values.end());
  for (uint64_t v : values) {
    const size_t b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBuckets) << v;
    EXPECT_GE(v, Histogram::lowest(b)) << v;
    EXPECT_LE(v - Histogram::lowest(b), Histogram::width(b) - 1) << v;  // no overflow at 2^64 - 1
    EXPECT_GE(b, previous) << "buckets follow the values' order at " << v;
    // A bucket is at most 1/128 of its lowest value wide: the relative error bound.
    if (v >= Histogram::kLinear) {
      EXPECT_LE(static_cast<double>(Histogram::width(b)) / static_cast<double>(Histogram::lowest(b)), 1.0 / 128);
    }
    previous = b;
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 200; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 100u);
  EXPECT_EQ(h.percentile(99), 198u);
  EXPECT_EQ(h.percentile(100), 200u);
  EXPECT_EQ(h.percentile(0.1), 1u);
}

TEST(Histogram, TheRankIsExactAtRoundCounts) {
  // 999 fast requests and one slow one: p99.9 of 1000 is the 999th, never the slow one (the
  // rank once came out 1000 at every multiple of 1000 samples).
  for (uint64_t n : {1000u, 5000u, 20000u}) {
    Histogram h;
    for (uint64_t i = 0; i < n - n / 1000; ++i) h.record(1'000'000);
    for (uint64_t i = 0; i < n / 1000; ++i) h.record(1'000'000'000);
    EXPECT_LT(h.percentile(99.9), 1'010'000u) << n;
    EXPECT_EQ(h.percentile(100), 1'000'000'000u) << n;
  }
}

TEST(Histogram, EmptyAndSingle) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.record(123'456'789);
  for (double p : kPercentiles) EXPECT_EQ(h.percentile(p), 123'456'789u) << p;
  EXPECT_DOUBLE_EQ(h.mean(), 123'456'789.0);
}

TEST(Histogram, PercentilesAgreeWithExactOnSyntheticLatencies) {
  std::mt19937_64 rng(7);
  // Lognormal around 100 ms with a heavy tail, in nanoseconds: the shape of a fetch run.
  std::lognormal_distribution<double> lognormal(std::log(100e6), 0.3);
  std::vector<uint64_t> a(200'000);
  for (auto& v : a) v = static_cast<uint64_t>(lognormal(rng));
  expect_close_to_exact(a, 0.004);
  // Microseconds to seconds, uniform in the logarithm: every octave exercised.
  std::uniform_real_distribution<double> exponent(3, 9.5);
  std::vector<uint64_t> b(100'000);
  for (auto& v : b) v = static_cast<uint64_t>(std::pow(10.0, exponent(rng)));
  expect_close_to_exact(b, 0.004);
  // Bimodal: most requests at 1 ms, a stall of 200 ms for 0.5% of them (what a pause looks like).
  std::vector<uint64_t> c;
  std::normal_distribution<double> fast(1e6, 5e4), slow(2e8, 1e6);
  for (int i = 0; i < 100'000; ++i) c.push_back(static_cast<uint64_t>(std::max(0.0, i % 200 == 0 ? slow(rng) : fast(rng))));
  expect_close_to_exact(c, 0.004);
}

TEST(Histogram, MergeIsTheSameAsRecordingEverythingInOne) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> gap(1e-6);
  Histogram all, parts[4];
  for (int i = 0; i < 40'000; ++i) {
    const auto v = static_cast<uint64_t>(gap(rng));
    all.record(v);
    parts[i % 4].record(v);
  }
  Histogram merged;
  for (const auto& p : parts) merged.merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : kPercentiles) EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
  merged.clear();
  EXPECT_EQ(merged.count(), 0u);
  EXPECT_EQ(merged.percentile(50), 0u);
}

}  // namespace
}  // namespace concbench
