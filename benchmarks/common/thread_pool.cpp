// SPDX-License-Identifier: MIT
// A persistent pool of worker threads pulling tasks from one queue: the ThreadPoolExecutor analogue.
#include "common/thread_pool.h"

#include <algorithm>
#include <chrono>

#include "common/spin.h"

namespace concbench {

ThreadPool::ThreadPool(int workers, std::chrono::microseconds spin) : spin_(spin) {
  threads_.reserve(workers);
  try {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  } catch (...) {
    // The system refused a thread (a pids cgroup, RLIMIT_NPROC, memory). The ones started
    // must end before the error leaves: a joinable std::thread destroyed ends the process,
    // and they use this pool. The error is then the benchmark's, not the run's end.
    stop();
    throw;
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // What a spinning worker watches, as if a task had come: it then sees stopping_ at once,
    // where it spun out its time before (a pool built with a long spin took that long to stop).
    queued_.store(1, std::memory_order_release);
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    queued_.store(queue_.size(), std::memory_order_release);
  }
  ready_.notify_one();
}

void ThreadPool::work() {
  using Clock = std::chrono::steady_clock;
  while (true) {
    std::function<void()> task;
    {
      // Spin, then sleep. A worker that saw a task and lost it to another spins again for what
      // is left of its time: sent to sleep at once, the second worker of a pool of two lost its
      // first race and slept through the calls that followed (each submit then a futex wake for
      // nothing), and the pool ran both slices of a small call on one thread.
      // Yielding, not pausing, while spinning: the thread that submits work may need this core.
      const Clock::time_point until = Clock::now() + spin_;
      std::unique_lock lock(mutex_, std::defer_lock);
      while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
        spin_until([this] { return queued_.load(std::memory_order_acquire) != 0; },
                   std::max(left, std::chrono::microseconds::zero()));
        lock.lock();
        if (stopping_ || !queue_.empty() || Clock::now() >= until) break;
        lock.unlock();  // lost it: spin on
      }
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(stopping_ ? 1 : queue_.size(), std::memory_order_release);  // stop() says why 1
    }
    task();
  }
}

}  // namespace concbench
