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
    {
      // jthreads join when destroyed: a thread the system refuses part-way throws, and the
      // ones started, which point into this frame, are joined as the error leaves. The error
      // is then the benchmark's (a joinable std::thread destroyed would end the process).
      std::vector<std::jthread> threads;
      threads.reserve(workers_);
      for (int i = 0; i < workers_; ++i) {
        threads.emplace_back([&, i] {
          Slice s = slice_of(p.n, workers_, i);
          partials_[i].value = sum_slice(p, s.begin, s.end);
        });
      }
    }  // all joined here
    int64_t total = 0;
    for (const Partial& partial : partials_) total += partial.value;
    return total;
  }

 private:
  int workers_;
  std::vector<Partial> partials_;
};

}  // namespace

std::unique_ptr<Model> make_threads(int workers) { return std::make_unique<Threads>(workers); }

}  // namespace concbench::sum
