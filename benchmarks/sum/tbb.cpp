// SPDX-License-Identifier: MIT
// sum/tbb: oneTBB parallel_reduce over slices inside a task_arena of exactly `workers` threads.
#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>
#include <tbb/partitioner.h>

#include <functional>

#include "common/arena.h"
#include "sum/model.h"

namespace concbench::sum {
namespace {

// Slices per worker once every slice is at least kGrain long: enough for work stealing to
// balance the load (three workers on two cores), few enough that each slice is a long run of
// the kernel. Below that, one slice per worker: a range shorter than its grain would not be
// split at all, and the name's W workers would be one.
constexpr int64_t kGrain = 1 << 14;
constexpr int kSlicesPerWorker = 8;

class Tbb final : public Model {
 public:
  explicit Tbb(int workers) : arena_(workers), workers_(workers) { arena_.initialize(); }

  int64_t sum(const Problem& p) override {
    const int parts = p.n >= int64_t{workers_} * kSlicesPerWorker * kGrain ? workers_ * kSlicesPerWorker : workers_;
    return arena_.execute([&] {
      return tbb::parallel_reduce(
          tbb::blocked_range<int>(0, parts, 1), int64_t{0},
          [&](const tbb::blocked_range<int>& r, int64_t acc) {
            for (int i = r.begin(); i != r.end(); ++i) {
              const Slice s = slice_of(p.n, parts, i);
              acc += sum_slice(p, s.begin, s.end);
            }
            return acc;
          },
          std::plus<int64_t>(), tbb::simple_partitioner());
    });
  }

 private:
  WorkerArena arena_;
  int workers_;
};

}  // namespace

std::unique_ptr<Model> make_tbb(int workers) { return std::make_unique<Tbb>(workers); }

}  // namespace concbench::sum
