// SPDX-License-Identifier: MIT
// The sum kernels: explicit vector loops that compilers cannot fold into a closed form.
#include "sum/kernel.h"

#include <stdexcept>
#include <string>

namespace concbench::sum {
namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 8;
#elif defined(__AVX2__)
constexpr int kLanes = 4;
#else
constexpr int kLanes = 2;
#endif
using Vec = int64_t __attribute__((vector_size(kLanes * sizeof(int64_t))));
// Independent accumulators so the adds are limited by issue rate, not by add latency.
constexpr int kUnroll = 4;
constexpr int64_t kBlock = int64_t{kLanes} * kUnroll;

// An empty asm that claims to change v. It emits nothing, but the compiler must assume v is
// unknown afterwards, so it cannot see the index vectors as an arithmetic progression and
// cannot derive the sum in closed form (clang does that even for run-time bounds).
inline void opaque(Vec& v) { asm volatile("" : "+v"(v)); }

inline int64_t horizontal_sum(const Vec& v) {
  int64_t s = 0;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

}  // namespace

const char* kernel_name(Kernel kernel) { return kernel == Kernel::range ? "range" : "array"; }

int kernel_lanes() { return kLanes; }

inline Vec iota_from(int64_t first) {
  Vec v;
  for (int l = 0; l < kLanes; ++l) v[l] = first + l;
  return v;
}

inline Vec broadcast(int64_t x) {
  Vec v;
  for (int l = 0; l < kLanes; ++l) v[l] = x;
  return v;
}

// noinline: every model calls this one function, and a caller with constant bounds (seq at a
// fixed n) cannot specialise it. The accumulators are named variables, not an array: GCC keeps
// an array of vectors on the stack and the loop then runs at store-forwarding speed.
__attribute__((noinline)) int64_t sum_range(int64_t begin, int64_t end) {
  Vec i0 = iota_from(begin), i1 = iota_from(begin + kLanes), i2 = iota_from(begin + 2 * kLanes),
      i3 = iota_from(begin + 3 * kLanes);
  Vec a0{}, a1{}, a2{}, a3{};
  const Vec step = broadcast(kBlock);
  int64_t i = begin;
  // Compare with a difference, not i + kBlock <= end, which could overflow near INT64_MAX.
  for (; end - i >= kBlock; i += kBlock) {
    a0 += i0;
    a1 += i1;
    a2 += i2;
    a3 += i3;
    i0 += step;
    i1 += step;
    i2 += step;
    i3 += step;
    opaque(i0);
    opaque(i1);
    opaque(i2);
    opaque(i3);
  }
  int64_t total = horizontal_sum(a0 + a1 + a2 + a3);
  // The tail is shorter than one block; the same kind of barrier keeps it a loop too.
  for (; i < end; ++i) {
    asm volatile("" : "+r"(i));
    total += i;
  }
  return total;
}

__attribute__((noinline)) int64_t sum_array(const int64_t* values, int64_t count) {
  Vec a0{}, a1{}, a2{}, a3{};
  auto load = [values](int64_t at) {
    Vec v;
    __builtin_memcpy(&v, values + at, sizeof v);  // an unaligned vector load
    return v;
  };
  int64_t i = 0;
  for (; count - i >= kBlock; i += kBlock) {
    a0 += load(i);
    a1 += load(i + kLanes);
    a2 += load(i + 2 * kLanes);
    a3 += load(i + 3 * kLanes);
  }
  int64_t total = horizontal_sum(a0 + a1 + a2 + a3);
  for (; i < count; ++i) total += values[i];
  return total;
}

__attribute__((noinline)) int64_t vector_add_peak(int64_t rounds) {
  static_assert(kPeakChains == 12, "the chains below are written out one by one");
  const Vec one = broadcast(1);
  Vec c0{}, c1{}, c2{}, c3{}, c4{}, c5{}, c6{}, c7{}, c8{}, c9{}, c10{}, c11{};
  for (int64_t r = 0; r < rounds; ++r) {
    c0 += one;
    c1 += one;
    c2 += one;
    c3 += one;
    c4 += one;
    c5 += one;
    c6 += one;
    c7 += one;
    c8 += one;
    c9 += one;
    c10 += one;
    c11 += one;
    // Without the barriers the compiler would turn each chain into one multiply.
    opaque(c0);
    opaque(c1);
    opaque(c2);
    opaque(c3);
    opaque(c4);
    opaque(c5);
    opaque(c6);
    opaque(c7);
    opaque(c8);
    opaque(c9);
    opaque(c10);
    opaque(c11);
  }
  return horizontal_sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
}

int64_t exact_sum(int64_t n) {
  if (n <= 0) return 0;
  // n(n-1)/2 with the halving done first on whichever factor is even, so only the product
  // can overflow, and that is checked.
  int64_t a = n, b = n - 1;
  (a % 2 == 0 ? a : b) /= 2;
  int64_t s = 0;
  if (__builtin_mul_overflow(a, b, &s))
    throw std::overflow_error("sum of 0.." + std::to_string(n - 1) + " overflows int64");
  return s;
}

}  // namespace concbench::sum
