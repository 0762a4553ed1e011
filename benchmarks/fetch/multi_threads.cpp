// SPDX-License-Identifier: MIT
// fetch/multi_threads: W threads, each its own multi_socket loop over a share of the requests and connections.
#include <algorithm>
#include <exception>
#include <latch>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <unistd.h>

#include "common/thread_pool.h"
#include "fetch/model.h"
#include "fetch/socket_client.h"

namespace concbench::fetch {
namespace {

// libcurl 7.88 walks every connection in a multi handle's cache for each transfer (to find
// one to reuse, and again when the handle is removed), so one handle's cost per request grows
// with C. Measured at N = C = 10,000, 100 ms, on 2 cores: 1 loop 1.7 s, 2 loops 685 ms, 4 loops
// 444 ms, 10 loops 380 ms, 20 loops 358 ms.
constexpr int kConnectionsPerLoop = 500;

// What production clients do: several event loops (multi handles), at least one per core and
// at most kConnectionsPerLoop connections each, so W = max(hardware threads, C / 500), never
// more than C. Each loop holds C / W of the connections and takes every W-th request; no
// handle, connection or libcurl structure is shared between loops. The calling thread runs
// loop 0 itself; W - 1 persistent threads, started outside the timed region, run the others.
int loops_for(int concurrency) {
  const int c = std::max(1, concurrency);
  const int per_core = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::min(c, std::max(per_core, (c + kConnectionsPerLoop - 1) / kConnectionsPerLoop));
}

class MultiThreads final : public Model {
 public:
  explicit MultiThreads(const ModelConfig& config)
      : client_options_(config.client),
        concurrency_(config.concurrency),
        loops_(loops_for(config.concurrency)),
        helpers_(loops_ - 1, std::chrono::microseconds(0)) {
    for (int k = 0; k < loops_; ++k) {
      const int share = concurrency_ / loops_ + (k < concurrency_ % loops_ ? 1 : 0);
      clients_.push_back(std::make_unique<SocketClient>(config.client, share));
    }
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const Clock::time_point deadline = run_deadline(requests, concurrency_, client_options_);
    std::vector<std::exception_ptr> errors(loops_);
    {
      std::lock_guard lock(mutex_);
      threads_.clear();
    }
    auto share = [&](int k) {
      try {
        {
          std::lock_guard lock(mutex_);
          threads_.insert(gettid());
        }
        clients_[k]->run(requests, outcomes, k, loops_, deadline);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    };
    std::latch done(loops_ - 1);
    for (int k = 1; k < loops_; ++k)
      helpers_.submit([&, k] {
        share(k);
        done.count_down();
      });
    share(0);
    done.wait();
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

  int threads_used() const override {
    std::lock_guard lock(mutex_);
    return static_cast<int>(threads_.size());
  }

 private:
  ClientOptions client_options_;
  int concurrency_;
  int loops_;
  std::vector<std::unique_ptr<SocketClient>> clients_;
  mutable std::mutex mutex_;
  std::set<pid_t> threads_;  // the threads that ran a loop in the last run
  ThreadPool helpers_;       // last: joined before the clients go away
};

}  // namespace

std::unique_ptr<Model> make_multi_threads(const ModelConfig& config) {
  return std::make_unique<MultiThreads>(config);
}

}  // namespace concbench::fetch
