// SPDX-License-Identifier: MIT
// sum/threads: a std::thread spawned per slice on every call, so spawn and join are in the time.
#include <thread>
#include <vector>

#include "sum/model.h"

namespace concbench::sum {
namespace {

class Threads final : public Model {
 public:
  explicit Threads(int workers) : workers_(workers), partials_(workers) {}

  int64_t sum(const Problem& p) override {
    std::vector<std::thread> threads;
    threads.reserve(workers_);
    try {
      for (int i = 0; i < workers_; ++i) {
        threads.emplace_back([&, i] {
          Slice s = slice_of(p.n, workers_, i);
          partials_[i].value = sum_slice(p, s.begin, s.end);
        });
      }
    } catch (...) {
      // The system refused a thread: the started ones point into this frame and, joinable,
      // would end the process when destroyed. Joined, the error is the benchmark's.
      for (std::thread& t : threads) t.join();
      throw;
    }
    int64_t total = 0;
    for (int i = 0; i < workers_; ++i) {
      threads[i].join();
      total += partials_[i].value;
    }
    return total;
  }

 private:
  int workers_;
  std::vector<Partial> partials_;
};

}  // namespace

std::unique_ptr<Model> make_threads(int workers) { return std::make_unique<Threads>(workers); }

}  // namespace concbench::sum
