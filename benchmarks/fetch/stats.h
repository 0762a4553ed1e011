// SPDX-License-Identifier: MIT
// What a fetch run records besides time: per-request latency quantiles and the process's memory.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "fetch/request.h"

namespace concbench::fetch {

// Latencies in log-spaced buckets (32 per power of two, so any quantile is within 1.6%),
// a fixed 15 KiB whatever the number of requests: recording costs no allocation inside the
// timed loop, and no memory that would show up as the model's.
class LatencyHistogram {
 public:
  void add(double seconds);
  // Nearest-rank quantile (q in [0, 1]) in seconds, the bucket's midpoint; 0 when empty.
  double quantile(double q) const;
  double max() const { return max_s_; }
  uint64_t count() const { return count_; }

 private:
  static constexpr int kExact = 64;  // below 64 us, one bucket per microsecond
  static constexpr int kSubBits = 5;
  static constexpr int kBuckets = kExact + (64 - 6) * (1 << kSubBits);
  static int bucket_of(uint64_t us);
  static double midpoint_us(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  double max_s_ = 0;
};

// The most requests in flight at once in one run, from their start and end times (end =
// Outcome::finished, start = end - seconds): measured the same way for every model, threads,
// event loops and worker processes alike.
int peak_overlap(std::span<const Outcome> outcomes);

// Resident set size now, KiB (/proc/self/statm).
int64_t rss_kib();
// VmHWM, the kernel's high-water mark of the resident set, KiB (/proc/self/status).
int64_t peak_rss_kib();
// Resets VmHWM to the current resident set (writes 5 to /proc/self/clear_refs, Linux >= 4.0),
// so the next peak_rss_kib() is this run's peak rather than the process's. False where the
// kernel refuses; peak_rss_kib() is then the process-wide high-water mark.
bool reset_peak_rss();
// Returns memory that malloc holds free to the kernel (malloc_trim), so a run that reuses it
// shows up as growth instead of hiding in what earlier benchmarks left behind.
void release_free_memory();

// Raises the soft RLIMIT_NOFILE to the hard limit: C = 1000 needs a socket per transfer on
// each side, beyond the usual 1024. Idempotent.
void raise_fd_limit();

}  // namespace concbench::fetch
