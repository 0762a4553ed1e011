// SPDX-License-Identifier: MIT
// The one sum kernel every model calls, so a difference in the numbers is a difference in the model.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>

namespace concbench::sum {

enum class Kernel { range, array };

const char* kernel_name(Kernel kernel);

// Sum of the integers in [begin, end). Really loops: see kernel.cpp for how it keeps
// GCC and Clang from replacing the loop with (b - a)(a + b - 1) / 2.
int64_t sum_range(int64_t begin, int64_t end);

// Sum of values[0..count): memory-bound when the array is larger than the caches.
int64_t sum_array(const int64_t* values, int64_t count);

// int64 lanes in the vectors the kernels use (8 with AVX-512, 4 with AVX2, else 2).
int kernel_lanes();

// Independent vector adds for `rounds` rounds of kChains adds each: the machine's vector-add
// issue rate, the bound for an honest range sum (two vector adds per `kernel_lanes()` integers).
inline constexpr int kPeakChains = 12;
int64_t vector_add_peak(int64_t rounds);

// Which threads and processes ran a slice in one call. Filled only in a benchmark's untimed
// calls, so that a name that says W workers is checked against how many really took part.
class SliceLog {
 public:
  // Worker `id` summed a slice, `repeated` of its elements a second time (the test hook).
  void add(int id, int64_t repeated) {
    std::lock_guard lock(mutex_);
    ids_.insert(id);
    ever_.insert(id);
    repeated_ += repeated;
  }
  int distinct() {  // in the call since clear()
    std::lock_guard lock(mutex_);
    return static_cast<int>(ids_.size());
  }
  int ever() {  // in any call
    std::lock_guard lock(mutex_);
    return static_cast<int>(ever_.size());
  }
  int64_t repeated() {  // in any call
    std::lock_guard lock(mutex_);
    return repeated_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    ids_.clear();
  }

 private:
  std::mutex mutex_;
  std::set<int> ids_, ever_;
  int64_t repeated_ = 0;
};

// The untimed calls before timing: this many, or this long, whichever ends first; longer, up
// to the last bound, while no call has used `wanted` workers. The bound is only ever reached by
// a model that fails the check, so it is generous: with another program busy on a core, a
// work-sharing model's first worker took every slice of 370,000 small calls in 0.5 s.
inline constexpr int kWorkerCheckCalls = 100;
inline constexpr std::chrono::milliseconds kWorkerCheckTime{20};
inline constexpr std::chrono::milliseconds kMaxWorkerCheck{5000};

// Whether the untimed calls are done, after `calls` calls in `spent`, the most distinct workers
// in one call being `most` and in all calls `ever`. `wanted` is min(W, hardware threads), and a
// call of W threads on fewer cores can have all W sign in: more than `wanted` passes too (an
// equality test kept every W > cores benchmark in its untimed calls for the whole bound, 5 s per
// run of the body). All W must have run a slice in some call: oneTBB caps its workers at the
// cores unless told otherwise, and a workers:3 arena on 2 cores then ran on 2 threads, never 3.
inline bool worker_check_done(int calls, std::chrono::nanoseconds spent, int most, int wanted, int ever,
                              int workers) {
  return (calls >= kWorkerCheckCalls || spent >= kWorkerCheckTime) &&
         ((most >= wanted && ever >= workers) || spent >= kMaxWorkerCheck);
}

// One problem: the kernel, its size, and the materialised values for `array` (values[i] == i,
// so both kernels have the same exact answer).
struct Problem {
  Kernel kernel;
  int64_t n;
  const int64_t* values;  // null for range
  // Test hook only (CONCBENCH_TEST_SLOWDOWN, see benchmarks.cpp): the share of each slice summed
  // a second time, a known slowdown for proving that regressions are found. 0 when ./bench runs.
  double repeat = 0;
  // Where the threads that run slices sign in (thread models; process models sign their
  // workers in from their replies), or null: set only for the untimed calls.
  SliceLog* log = nullptr;
};

// Sum of the problem's elements with index in [begin, end). `repeated`, when given, is set to
// how many of them the test hook summed a second time, for a worker in another process to
// report in its reply; in this process the log, if any, has them.
inline int64_t sum_slice(const Problem& p, int64_t begin, int64_t end, int64_t* repeated = nullptr) {
  auto kernel = [&p](int64_t b, int64_t e) {
    return p.kernel == Kernel::range ? sum_range(b, e) : sum_array(p.values + b, e - b);
  };
  int64_t again_n = 0;
  if (p.repeat > 0) {
    again_n = static_cast<int64_t>(p.repeat * static_cast<double>(end - begin));
    const int64_t again = kernel(begin, begin + again_n);
    asm volatile("" : : "r"(again));  // computed, then discarded: the compiler must not drop it
  }
  if (p.log) p.log->add(static_cast<int>(gettid()), again_n);
  if (repeated) *repeated = again_n;
  return kernel(begin, end);
}

// The exact answer for a problem of size n: 0 + 1 + ... + (n - 1). Throws std::overflow_error
// when it does not fit in int64.
int64_t exact_sum(int64_t n);

struct Slice {
  int64_t begin, end;
};

// The index-th of `parts` near-equal contiguous slices of [0, n): sizes differ by at most one,
// larger ones first, so uneven splits and n < parts are covered by one rule.
inline Slice slice_of(int64_t n, int parts, int index) {
  int64_t base = n / parts, extra = n % parts;
  int64_t begin = index * base + (index < extra ? index : extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

}  // namespace concbench::sum
