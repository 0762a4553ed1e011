// SPDX-License-Identifier: MIT
// fetch/multi_threads: W threads, each its own multi_socket loop over a share of the requests and connections.
#include <algorithm>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <unistd.h>

#include "common/context.h"
#include "common/thread_pool.h"
#include "fetch/model.h"
#include "fetch/socket_client.h"

namespace concbench::fetch {
namespace {

// libcurl 7.88 walks every connection in a multi handle's cache for each transfer (to find
// one to reuse, and again when the handle is removed), so one handle's cost per request grows
// with the connections it holds. Measured on 2 cores, two loops, N = 10,000, 3 processes each
// (medians of 3 repetitions), at C = 1000 and 0 ms / C = 10,000 and 100 ms: 10 connections a
// handle 240-276 / 327-365 ms, 20 250-261 / 298-316 ms, 50 256-298 / 342-357 ms. Against the
// design before (a thread per multi handle of at most 500 connections: 20 threads at C = 10,000),
// an interleaved A/B of 16 rounds: 13.5% less time at C = 10,000 (95% interval 6.5-19%), no
// difference at C = 1000.
constexpr int kConnectionsPerHandle = 20;

// What production clients do: one event loop per core, W = min(hardware threads, C), each
// holding C / W of the connections and taking every W-th request. A loop spreads its share over
// multi handles of at most kConnectionsPerHandle connections each, so no handle's cache walk
// grows with C, without a thread per handle. No handle, connection or libcurl structure is
// shared between loops. The calling thread runs loop 0 itself; W - 1 persistent threads,
// started outside the timed region, run the others.
int loops_for(int concurrency) {
  return std::min(std::max(1, concurrency), usable_cpus());
}

// The multi handles a loop spreads its share of the connections over.
int handles_for(int share) { return (share + kConnectionsPerHandle - 1) / kConnectionsPerHandle; }

class MultiThreads final : public Model {
 public:
  explicit MultiThreads(const ModelConfig& config)
      : client_options_(config.client),
        concurrency_(config.concurrency),
        loops_(loops_for(config.concurrency)),
        helpers_(loops_ - 1, std::chrono::microseconds(0)) {
    for (int k = 0; k < loops_; ++k) {
      const int share = even_share(concurrency_, loops_, k);
      clients_.push_back(std::make_unique<SocketClient>(config.client, share, handles_for(share)));
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
    // All at once: from a plain queue, a helper done with its share could take a second while
    // another slept, and the second's C / W connections idled until the first share was done.
    on_all(helpers_, loops_, share);
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

int multi_threads_handles(int conc) {
  const int loops = loops_for(conc);
  int handles = 0;
  for (int k = 0; k < loops; ++k) handles += handles_for(even_share(conc, loops, k));
  return handles;
}

std::unique_ptr<Model> make_multi_threads(const ModelConfig& config) {
  return std::make_unique<MultiThreads>(config);
}

}  // namespace concbench::fetch
