// SPDX-License-Identifier: MIT
// sum/tbb: oneTBB parallel_reduce inside a task_arena of exactly `workers` threads.
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_reduce.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "sum/model.h"

namespace concbench::sum {
namespace {

// Chunks below this are not split further: the kernel's vector loop wants long runs, and
// smaller tasks would measure TBB's task overhead rather than its scaling.
constexpr int64_t kGrain = 1 << 14;

class Tbb final : public Model {
 public:
  // oneTBB caps all arenas at the hardware thread count unless a global_control raises the
  // cap; without it, workers beyond the cores would silently not exist.
  explicit Tbb(int workers)
      : cap_(tbb::global_control::max_allowed_parallelism,
             std::max<size_t>(workers, std::thread::hardware_concurrency())),
        arena_(workers) {
    arena_.initialize();
  }

  int64_t sum(const Problem& p) override {
    return arena_.execute([&] {
      return tbb::parallel_reduce(
          tbb::blocked_range<int64_t>(0, p.n, kGrain), int64_t{0},
          [&](const tbb::blocked_range<int64_t>& r, int64_t acc) {
            return acc + sum_slice(p, r.begin(), r.end());
          },
          std::plus<int64_t>());
    });
  }

 private:
  tbb::global_control cap_;
  tbb::task_arena arena_;
};

}  // namespace

std::unique_ptr<Model> make_tbb(int workers) { return std::make_unique<Tbb>(workers); }

}  // namespace concbench::sum
