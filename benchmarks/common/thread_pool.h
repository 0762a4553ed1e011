// SPDX-License-Identifier: MIT
// A persistent pool of worker threads pulling tasks from one queue: the ThreadPoolExecutor analogue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
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
  void stop();  // lets the workers finish what is queued, then joins them
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::atomic<size_t> queued_{0};  // queue_.size(), readable without the lock while spinning
  bool stopping_ = false;
  const std::chrono::microseconds spin_;
  std::vector<std::thread> threads_;
};

// A latch that a model re-arms for every run and keeps for all of them, as a member declared
// before its pool (so it outlives the pool's threads). A std::latch on run()'s stack would not
// do: the last worker can still be inside count_down, waking the caller, when wait() has
// returned and the frame is gone. Its cost is std::latch's: libstdc++'s is the same int
// counter, decremented once per task, waited on and woken with a futex.
class Countdown {
 public:
  // Before the run's tasks are queued. The previous run's last wake-up may still arrive: wait()
  // takes it as spurious.
  void arm(int tasks) { left_.store(tasks, std::memory_order_relaxed); }
  void count_down() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) left_.notify_all();
  }
  // Returns once every task has counted down; what they wrote before is then visible.
  void wait() {
    for (int left; (left = left_.load(std::memory_order_acquire)) != 0;)
      left_.wait(left, std::memory_order_acquire);
  }

 private:
  std::atomic<int> left_{0};  // int, the futex's width: waited on directly, not through a shared table
};

// Runs body(i) for i = 0..w-1 at once, 1..w-1 on `helpers` (w - 1 threads started before the
// timing, as the persistent models' are) and 0 on the caller, and returns when all are done. A
// bound whose timed loop started its threads would read low by their start-up, and more so on
// a busy machine, where it took 16.6 ms against 7.3 ms for one thread's work. No body starts
// before all w have a thread: a helper holds its body until then, so it cannot take a second
// one off the shared queue while another helper sleeps, and W bodies run on W threads.
// `helpers` needs w - 1 threads free of other blocking work (fewer would wait forever: refused),
// and `body` must not throw. The latches are shared with the tasks, not on this stack: a helper
// can still be inside count_down (its wake-up of the caller) when done.wait() has returned.
template <typename Body>
void on_all(ThreadPool& helpers, int w, const Body& body) {
  if (helpers.size() < w - 1)
    throw std::logic_error("on_all: " + std::to_string(w) + " bodies need " + std::to_string(w - 1) +
                           " helper threads, the pool has " + std::to_string(helpers.size()));
  struct Sync {
    explicit Sync(int w) : started(w), done(w - 1) {}
    std::latch started, done;
  };
  const auto sync = std::make_shared<Sync>(w);
  for (int i = 1; i < w; ++i)
    helpers.submit([&body, sync, i] {
      sync->started.arrive_and_wait();
      body(i);
      sync->done.count_down();
    });
  sync->started.arrive_and_wait();
  body(0);
  sync->done.wait();
}

}  // namespace concbench
