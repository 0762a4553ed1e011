// SPDX-License-Identifier: MIT
// fetch/openmp: blocking requests inside `parallel for num_threads(C)`: a CPU scheduler handed IO.
#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class OpenMp final : public Model {
 public:
  explicit OpenMp(const ModelConfig& config) : concurrency_(config.concurrency), client_(config.client) {
    for (int i = 0; i < concurrency_; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
    omp_set_dynamic(0);  // a team of C, not what the load average leaves (sum/openmp says more)
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    const long n = static_cast<long>(requests.size());
    begin_run(requests, concurrency_, client_);
    // The loop as a CPU-bound program writes it: schedule(static) deals each thread one
    // contiguous block of requests before any starts, which is right when every iteration
    // costs the same CPU time and wrong when iterations are waits of different lengths. A
    // thread that finishes its block early waits at the loop's barrier (libgomp spins there
    // before it sleeps) while the others still wait on the network.
    // OMP_THREAD_LIMIT caps the team below C, silently: its size is the label's, so checked.
    std::atomic<int> team{concurrency_};
#pragma omp parallel for num_threads(concurrency_) schedule(static)
    for (long i = 0; i < n; ++i) {
      if (i == 0) team.store(omp_get_num_threads(), std::memory_order_relaxed);
      // Thread numbers are 0..C-1 within the team, so each thread keeps its own handle (and
      // its keep-alive connection) across iterations and runs.
      perform(*transfers_[omp_get_thread_num()], requests[i], outcomes[i]);
    }
    end_run();
    if (const int ran = team.load(std::memory_order_relaxed); ran != concurrency_)
      throw std::runtime_error("OpenMP ran a team of " + std::to_string(ran) + " threads, not the " +
                               std::to_string(concurrency_) + " the name says (OMP_THREAD_LIMIT?)");
  }

 private:
  int concurrency_;
  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

}  // namespace

std::unique_ptr<Model> make_openmp(const ModelConfig& config) {
  return std::make_unique<OpenMp>(config);
}

}  // namespace concbench::fetch
