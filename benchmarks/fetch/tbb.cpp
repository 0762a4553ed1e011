// SPDX-License-Identifier: MIT
// fetch/tbb: blocking requests in a parallel_for inside a task_arena of C threads.
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/arena.h"
#include "fetch/model.h"

namespace concbench::fetch {
namespace {

class Tbb final : public Model {
 public:
  explicit Tbb(const ModelConfig& config) : arena_(config.concurrency), client_(config.client) {
    // oneTBB sizes its pool of worker threads once, when the process's first arena starts (at
    // least 256, or the cap at that time), and never grows it: after a C = 250 model, arenas
    // of 500 and 1000 threads got 256 workers (peak_in_flight 257, four waves of requests at
    // N = 1000). Waiting here for the pool of earlier models to end lets this arena start one
    // sized by its own cap.
    tbb::task_scheduler_handle pool{tbb::attach{}};
    if (!tbb::finalize(pool, std::nothrow))
      throw std::runtime_error("oneTBB's worker threads are still in use elsewhere in this process: an arena of " +
                               std::to_string(config.concurrency) + " threads might get fewer");
    arena_.initialize();
    for (int i = 0; i < config.concurrency; ++i)
      transfers_.push_back(std::make_unique<Transfer>(config.client));
  }

  void run(std::span<const Request> requests, std::span<Outcome> outcomes) override {
    begin_run(requests, static_cast<int>(transfers_.size()), client_);
    // parallel_for splits the requests down to one per task before it runs any (the simple
    // partitioner), so every split-off half is there to be stolen while the thread that split
    // it blocks in its request. With the default (auto) partitioner a thread took a range of
    // several requests and ran them back to back: oneTBB assumes a busy thread is computing,
    // and a thread blocked in a request can neither split its range further nor be replaced,
    // so past C = 500 most of the arena's threads had nothing to do (peak_in_flight shows it).
    arena_.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, requests.size(), 1),
          [&](const tbb::blocked_range<size_t>& r) {
            // The slot index is unique among the threads in the arena at once.
            Transfer& t = *transfers_[tbb::this_task_arena::current_thread_index()];
            for (size_t i = r.begin(); i != r.end(); ++i) perform(t, requests[i], outcomes[i]);
          },
          tbb::simple_partitioner());
    });
    end_run();
  }

 private:
  WorkerArena arena_;
  ClientOptions client_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
};

}  // namespace

std::unique_ptr<Model> make_tbb(const ModelConfig& config) { return std::make_unique<Tbb>(config); }

}  // namespace concbench::fetch
