// SPDX-License-Identifier: MIT
// A log-linear histogram of latencies in the spirit of HdrHistogram: fixed memory, mergeable,
// every recorded value kept to within 0.4% (Debian packages no C or C++ HdrHistogram).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace concbench {

// Values are non-negative integers (nanoseconds here). Below 2^kSubBits a value has a bucket of
// its own; above, each power of two [2^e, 2^(e+1)) is cut into 2^(kSubBits-1) equal buckets, so
// a bucket is at most 1/128 of its lower bound wide. Reporting a bucket's midpoint keeps every
// percentile within 0.4% of the recorded value it stands for, from 1 ns to 2^64 ns, in
// 58 KiB (7,424 counts of 8 bytes).
class Histogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kLinear = uint64_t{1} << kSubBits;        // 256 exact buckets
  static constexpr uint64_t kPerOctave = uint64_t{1} << (kSubBits - 1);  // 128 per power of two
  static constexpr size_t kBuckets = kLinear + (64 - kSubBits) * kPerOctave;

  void record(uint64_t value, uint64_t times = 1);
  // Adds another histogram's counts: per-thread histograms merge into one.
  void merge(const Histogram& other);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The nearest-rank percentile (p in (0, 100]): the value below or at which at least p% of
  // the recorded values lie, as the midpoint of its bucket, never above max() nor below min().
  // 0 when empty.
  uint64_t percentile(double p) const;

  // The bucket of a value, and the values a bucket holds: [lowest(i), lowest(i) + width(i)).
  static size_t bucket_of(uint64_t value);
  static uint64_t lowest(size_t bucket);
  static uint64_t width(size_t bucket);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sum for the mean: 2^64 ns is 584 years of latency, far beyond any run.
  uint64_t sum_ = 0;
};

}  // namespace concbench
