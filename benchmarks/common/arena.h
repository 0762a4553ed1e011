// SPDX-License-Identifier: MIT
// A oneTBB task arena of exactly W threads, for the models that run on oneTBB.
#pragma once

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstddef>
#include <thread>
#include <utility>

namespace concbench {

// oneTBB caps every arena at the hardware thread count unless a global_control raises the
// cap: without one, an arena of 4 threads on 2 cores would silently run 2, and a name that
// says 4 workers would be false. The cap holds while the arena lives.
class WorkerArena {
 public:
  explicit WorkerArena(int workers)
      : cap_(tbb::global_control::max_allowed_parallelism,
             std::max<size_t>(workers, std::thread::hardware_concurrency())),
        arena_(workers) {}

  // Starts the arena's threads, so the first timed call does not.
  void initialize() { arena_.initialize(); }

  template <typename F>
  auto execute(F&& f) {
    return arena_.execute(std::forward<F>(f));
  }

 private:
  tbb::global_control cap_;
  tbb::task_arena arena_;
};

}  // namespace concbench
