// SPDX-License-Identifier: MIT
// fetch/threads: a new OS thread per request, at most C alive at once: spawn cost and stacks show.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Threads final : public Model {
 public:
  // The easy handles belong to the C slots, not to the threads: a thread borrows its slot's
  // handle, so a request can reuse the connection its slot's previous thread left open and
  // keep-alive means the same here as in the pool. What this model adds is only the thread.
  explicit Threads(const ModelConfig& config) : client_(config.client) {
    for (int i = 0; i < config.concurrency; ++i)
      slots_.push_back(std::make_unique<Transfer>(config.client));
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const int c = static_cast<int>(slots_.size());
    begin_run(requests, c, client_);
    std::mutex mutex;
    std::condition_variable freed;
    std::vector<int> idle;
    for (int s = c - 1; s >= 0; --s) idle.push_back(s);
    {
      // Declared after what they use, so destroyed first: jthreads join when destroyed, and
      // when the system refuses another thread, the running ones end before the error leaves
      // this frame (a joinable std::thread destroyed would end the process).
      std::vector<std::jthread> threads(c);
      for (size_t i = 0; i < requests.size(); ++i) {
        wait_for_arrival(requests[i]);  // open loop: it arrives, then waits for a slot
        int slot;
        {
          // No deadline needed: a busy slot frees within its transfer's timeout.
          std::unique_lock lock(mutex);
          freed.wait(lock, [&] { return !idle.empty(); });
          slot = idle.back();
          idle.pop_back();
        }
        // The slot's previous thread has finished its request; joining reaps it so at most C
        // threads exist at any moment, the count the model promises.
        if (threads[slot].joinable()) threads[slot].join();
        threads[slot] = std::jthread([&, slot, i] {
          perform(*slots_[slot], requests[i], outcomes[i]);
          {
            std::lock_guard lock(mutex);
            idle.push_back(slot);
          }
          freed.notify_one();
        });
      }
    }  // all joined here
    end_run();
  }

 private:
  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> slots_;
};

}  // namespace

std::unique_ptr<Model> make_threads(const ModelConfig& config) {
  return std::make_unique<Threads>(config);
}

}  // namespace concbench::fetch
