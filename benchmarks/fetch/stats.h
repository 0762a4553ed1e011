// SPDX-License-Identifier: MIT
// What a fetch run records besides time: requests in flight and the process's memory.
#pragma once

#include <cstdint>
#include <span>

#include "fetch/request.h"

namespace concbench::fetch {

// The most requests in flight at once in one run, from their start and end times (end =
// Outcome::finished, start = end - seconds): measured the same way for every model, threads,
// event loops and worker processes alike.
int peak_overlap(std::span<const Outcome> outcomes);

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
