// SPDX-License-Identifier: MIT
// sum/pool: slices queued to a persistent thread pool built outside the timed region (dispatch, not spawn).
#include <vector>

#include "common/spin.h"
#include "common/thread_pool.h"
#include "sum/model.h"

namespace concbench::sum {
namespace {

class Pool final : public Model {
 public:
  explicit Pool(int workers) : pool_(workers, kCpuSpin), partials_(workers) {}

  int64_t sum(const Problem& p) override {
    const int parts = pool_.size();
    done_.arm(parts);
    for (int i = 0; i < parts; ++i) {
      pool_.submit([&, i] {
        Slice s = slice_of(p.n, parts, i);
        partials_[i].value = sum_slice(p, s.begin, s.end);
        done_.count_down();
      });
    }
    // The caller sleeps, as a ThreadPoolExecutor's does on a future. Spinning here would make
    // it a third runnable thread beside W = 2 workers on two cores, and the scheduler may
    // then leave both workers on one core (measured with process_pool's caller spinning: a
    // whole repetition at the one-worker time).
    done_.wait();
    int64_t total = 0;
    for (const Partial& part : partials_) total += part.value;
    return total;
  }

 private:
  Countdown done_;  // before pool_, so it outlives the workers that count it down
  ThreadPool pool_;
  std::vector<Partial> partials_;
};

}  // namespace

std::unique_ptr<Model> make_pool(int workers) { return std::make_unique<Pool>(workers); }

}  // namespace concbench::sum
