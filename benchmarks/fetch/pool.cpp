// SPDX-License-Identifier: MIT
// fetch/pool: C persistent threads, each with its own easy handle, pulling requests from a queue.
#include "common/thread_pool.h"
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Pool final : public Model {
 public:
  // The threads start here, outside the timed region, as a ThreadPoolExecutor is built once.
  explicit Pool(const ModelConfig& config) : client_(config.client), pool_(config.concurrency, std::chrono::microseconds(0)) {}

  // One task per request, as executor.map submits one per URL: the queue decides which
  // thread takes which request, and each thread takes the next one as soon as it is free.
  // An open-loop request is submitted when it arrives, so its wait in the queue is latency.
  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    begin_run(requests, pool_.size(), client_);
    done_.arm(static_cast<int>(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) {
      wait_for_arrival(requests[i]);
      pool_.submit([this, &requests, &outcomes, i] {
        perform(worker_transfer(), requests[i], outcomes[i]);
        done_.count_down();
      });
    }
    done_.wait();
    end_run();
  }

 private:
  // Each worker thread's own handle, made on its first request and kept until the thread ends
  // (when the pool is destroyed), so its keep-alive connection is reused by every later
  // request that thread takes. The pool's threads serve only this model, so the handle's
  // options are always this model's.
  Transfer& worker_transfer() {
    thread_local std::unique_ptr<Transfer> mine;
    if (!mine) mine = std::make_unique<Transfer>(client_);
    return *mine;
  }

  ClientOptions client_;
  Countdown done_;   // before pool_, so it outlives the workers that count it down
  ThreadPool pool_;  // last: its destructor joins the threads before client_ goes away
};

}  // namespace

std::unique_ptr<Model> make_pool(const ModelConfig& config) {
  return std::make_unique<Pool>(config);
}

}  // namespace concbench::fetch
