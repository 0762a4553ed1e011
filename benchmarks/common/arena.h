// SPDX-License-Identifier: MIT
// A oneTBB task arena of exactly W threads, for the models that run on oneTBB.
#pragma once

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <iostream>
#include <mutex>
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
        arena_(workers),
        workers_(workers) {}

  // Starts the arena's threads, so that building a model pays for them (sum's start_ms) and
  // its first call does not. task_arena::initialize alone starts none: oneTBB creates worker
  // threads when work first arrives. So W tasks are given, each holding its thread asleep until
  // W threads hold one, or until a few seconds have passed (oneTBB owes no arena its threads:
  // the models check that a call used W, this only starts them).
  void initialize() {
    arena_.initialize();
    std::mutex m;
    std::condition_variable all_here;
    int arrived = 0;
    bool timed_out = false;  // a task gave up waiting: the W threads never held one each at once
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    arena_.execute([&] {
      tbb::parallel_for(
          0, workers_,
          [&](int) {
            std::unique_lock lock(m);
            if (++arrived == workers_) all_here.notify_all();
            if (!all_here.wait_until(lock, give_up, [&] { return arrived >= workers_; })) timed_out = true;
          },
          tbb::simple_partitioner());
    });
    // Said here, when it happens: the model's own check then names the call that ran short.
    if (timed_out)
      std::cerr << "concbench: oneTBB had not started " << workers_
                << " arena threads after 5 s; the model's calls will say how many they used\n";
  }

  template <typename F>
  auto execute(F&& f) {
    return arena_.execute(std::forward<F>(f));
  }

 private:
  tbb::global_control cap_;
  tbb::task_arena arena_;
  int workers_;
};

}  // namespace concbench
