// SPDX-License-Identifier: MIT
// What produced a run: recorded into the JSON context so every number can be traced back.
#pragma once

#include <string>

namespace concbench {

// Adds commit, dirty flag, compiler, flags, oneTBB version, OpenMP runtime, hardware threads
// and CPU model to Google Benchmark's context. Call after the workloads have run their
// set-up, so runtimes they load (libgomp, libomp) are visible.
void add_run_context();

// The CPU model string from /proc/cpuinfo, or "unknown".
std::string cpu_model();

// CPU seconds (user + system) of this process and of its reaped children.
double process_cpu_seconds();

}  // namespace concbench
