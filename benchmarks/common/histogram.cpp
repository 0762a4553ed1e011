// SPDX-License-Identifier: MIT
#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace concbench {

size_t Histogram::bucket_of(uint64_t value) {
  if (value < kLinear) return static_cast<size_t>(value);
  const int e = std::bit_width(value) - 1;  // value is in [2^e, 2^(e+1)), e >= kSubBits
  const int shift = e - (kSubBits - 1);     // keeps the top kSubBits bits: 128 .. 255
  const uint64_t sub = value >> shift;
  return static_cast<size_t>(kLinear + static_cast<uint64_t>(e - kSubBits) * kPerOctave + (sub - kPerOctave));
}

uint64_t Histogram::lowest(size_t bucket) {
  if (bucket < kLinear) return bucket;
  const uint64_t octave = (bucket - kLinear) / kPerOctave;  // e - kSubBits
  const uint64_t sub = kPerOctave + (bucket - kLinear) % kPerOctave;
  return sub << (octave + 1);
}

uint64_t Histogram::width(size_t bucket) {
  if (bucket < kLinear) return 1;
  return uint64_t{1} << ((bucket - kLinear) / kPerOctave + 1);
}

void Histogram::record(uint64_t value, uint64_t times) {
  if (times == 0) return;
  counts_[bucket_of(value)] += times;
  count_ += times;
  sum_ += value * times;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::clear() { *this = Histogram(); }

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  // Nearest rank: the smallest value with at least ceil(p/100 * count) values at or below it.
  // In floating point 99.9 / 100 * 1000 is 999.0000000000001, whose ceiling made p99.9 the
  // maximum at every multiple of 1000 samples: a relative hair off first.
  const double exact = std::clamp(p, 0.0, 100.0) * static_cast<double>(count_) / 100.0;
  const double wanted = std::ceil(exact * (1 - 1e-12));
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = lowest(i) + (width(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace concbench
