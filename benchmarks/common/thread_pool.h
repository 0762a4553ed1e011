// SPDX-License-Identifier: MIT
// A persistent pool of worker threads pulling tasks from one queue: the ThreadPoolExecutor analogue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace concbench {

class ThreadPool {
 public:
  // Starts `workers` threads now, so their creation is never inside a timed region. `spin`:
  // how long an idle worker looks for work before it sleeps: kCpuSpin (common/spin.h) for
  // short CPU tasks; zero for IO, where hundreds of idle workers spinning would take the
  // cores from the threads doing the work.
  ThreadPool(int workers, std::chrono::microseconds spin);
  // Runs every queued task, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues a task; some idle worker runs it. Tasks must not throw: catch inside and report.
  void submit(std::function<void()> task);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::atomic<size_t> queued_{0};  // queue_.size(), readable without the lock while spinning
  bool stopping_ = false;
  const std::chrono::microseconds spin_;
  std::vector<std::thread> threads_;
};

}  // namespace concbench
