// SPDX-License-Identifier: MIT
// A persistent pool of worker threads pulling tasks from one queue: the ThreadPoolExecutor analogue.
#include "common/thread_pool.h"

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
  while (true) {
    // Yielding, not pausing, while spinning: the thread that submits work may need this core.
    spin_until([this] { return queued_.load(std::memory_order_acquire) != 0; }, spin_);
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_release);
    }
    task();
  }
}

}  // namespace concbench
